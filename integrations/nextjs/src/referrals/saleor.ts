// One GraphQL request to Saleor from the browser.

export class SaleorRequestError extends Error {}

export async function saleorRequest<T>(
	saleorApiUrl: string,
	query: string,
	variables: Record<string, unknown>,
): Promise<T> {
	const response = await fetch(saleorApiUrl, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({ query, variables }),
		credentials: "omit",
		cache: "no-store",
	});
	let body: { data?: T; errors?: { message: string }[] } | null = null;
	try {
		body = (await response.json()) as { data?: T; errors?: { message: string }[] };
	} catch {
		body = null;
	}
	if (!response.ok || !body || !body.data) {
		const reason = body?.errors?.[0]?.message ?? `HTTP ${response.status}`;
		throw new SaleorRequestError(`Saleor did not answer: ${reason}`);
	}
	return body.data;
}
