// The friend's codes between arriving (?promo=…&ref=… on any page) and a checkout to put them on.
// Kept in localStorage so an empty cart, a reload or a later visit does not lose them.

export type PendingCodes = { promo: string | null; referralCode: string | null };

const KEY = "saleor-referrals:pending";
const MAX_LENGTH = 64;
const WEEK_MS = 7 * 24 * 3600 * 1000;

function usable(value: string | null): string | null {
	const text = (value ?? "").trim();
	return text && text.length <= MAX_LENGTH && /^[\p{L}\p{N}_-]+$/u.test(text) ? text : null;
}

function storage(): Storage | null {
	try {
		return window.localStorage;
	} catch {
		return null; // storage disabled: the codes live as long as the page
	}
}

let inMemory: (PendingCodes & { at: number }) | null = null;

/** Reads `promo` and `ref` from the address, remembers them, and removes them from the address bar. */
export function takeCodesFromUrl(): void {
	const url = new URL(window.location.href);
	if (!url.searchParams.has("promo") && !url.searchParams.has("ref")) return;
	const promo = usable(url.searchParams.get("promo"));
	const referralCode = usable(url.searchParams.get("ref"));
	url.searchParams.delete("promo");
	url.searchParams.delete("ref");
	// Next.js (14.1+) keeps its router in step with history.replaceState: no reload, no new entry.
	window.history.replaceState(null, "", `${url.pathname}${url.search}${url.hash}`);
	if (!promo && !referralCode) return;
	const value = { promo, referralCode, at: Date.now() };
	inMemory = value;
	try {
		storage()?.setItem(KEY, JSON.stringify(value));
	} catch {
		/* quota or privacy mode: in memory only */
	}
}

export function pendingCodes(): PendingCodes | null {
	let value = inMemory;
	try {
		const raw = storage()?.getItem(KEY);
		if (raw) value = JSON.parse(raw) as PendingCodes & { at: number };
	} catch {
		value = inMemory;
	}
	if (!value || typeof value.at !== "number" || Date.now() - value.at > WEEK_MS) return null;
	const promo = usable(value.promo);
	const referralCode = usable(value.referralCode);
	return promo || referralCode ? { promo, referralCode } : null;
}

export function forgetPendingCodes(): void {
	inMemory = null;
	try {
		storage()?.removeItem(KEY);
	} catch {
		/* nothing stored */
	}
}
