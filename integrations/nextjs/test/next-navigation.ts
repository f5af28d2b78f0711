// The harness has no Next.js App Router: this stands in for the one hook the kit uses.
// It counts refreshes so the browser test can see the cart asked to render again.

declare global {
	interface Window {
		referralHarness: { refreshes: number };
	}
}

export function useRouter() {
	return {
		refresh() {
			window.referralHarness.refreshes += 1;
		},
	};
}
