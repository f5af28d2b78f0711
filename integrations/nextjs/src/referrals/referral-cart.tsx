"use client";

// The cart's part of a referral: the landing page sends the friend to
// `/<locale>/<channel>/cart?promo=<single-use code>&ref=<advocate's code>`. This component takes the
// two codes out of the address (once), applies the promo code to the cart's checkout with
// `checkoutAddPromoCode`, stores the referral code in the checkout's metadata with `updateMetadata`
// (copied to the order, where the referral app reads it), and asks the page to render again.
// With no checkout yet (an empty cart), the codes wait in localStorage for the next visit.

import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { applyPendingCodes } from "./apply";
import { pendingCodes, takeCodesFromUrl } from "./pending";

export type ReferralCartProps = {
	/** The cart's checkout id (`Checkout.getIdFromCookies(channel)` in saleor/storefront), if there is one. */
	checkoutId: string | null | undefined;
	/** Saleor's API URL; defaults to NEXT_PUBLIC_SALEOR_API_URL. */
	saleorApiUrl?: string;
	/** Texts shown after the attempt (your storefront's translations). */
	texts?: { applied?: string; refused?: (reason: string) => string };
};

type Status = { kind: "applied" | "refused"; text: string };

export function ReferralCart({ checkoutId, saleorApiUrl, texts }: ReferralCartProps) {
	const router = useRouter();
	const [status, setStatus] = useState<Status | null>(null);
	const apiUrl = saleorApiUrl ?? process.env.NEXT_PUBLIC_SALEOR_API_URL;
	const applied = texts?.applied ?? "Your friend's discount is applied.";
	const refused = texts?.refused ?? ((reason: string) => `The discount code could not be applied: ${reason}`);

	useEffect(() => {
		takeCodesFromUrl();
		const codes = pendingCodes();
		if (!checkoutId || !apiUrl || !codes) return;
		let current = true;
		applyPendingCodes(apiUrl, checkoutId, codes)
			.then((outcome) => {
				if (!current) return;
				if (outcome.promoRefused) setStatus({ kind: "refused", text: refused(outcome.promoRefused) });
				else if (outcome.promoApplied) setStatus({ kind: "applied", text: applied });
				if (outcome.changed) router.refresh();
			})
			.catch(() => {
				/* Saleor unreachable: the codes stay pending for the next visit */
			});
		return () => {
			current = false;
		};
		// eslint-disable-next-line react-hooks/exhaustive-deps -- texts are display-only
	}, [checkoutId, apiUrl, router]);

	if (!status) return null;
	return (
		<p role="status" data-referral-status={status.kind}>
			{status.text}
		</p>
	);
}
