// Puts the friend's codes on a checkout: the single-use code as its promo code, the advocate's
// referral code into its metadata. Each is written at most once: what the checkout already carries
// is left alone, and concurrent runs for one checkout share a single attempt.

import {
	APPLY_FRIEND_CODE,
	REFERRAL_CHECKOUT,
	REMEMBER_REFERRAL,
	type ApplyFriendCodeResult,
	type ReferralCheckoutResult,
	type RememberReferralResult,
} from "./documents";
import { forgetPendingCodes, type PendingCodes } from "./pending";
import { saleorRequest } from "./saleor";

export type ApplyOutcome = {
	/** The checkout changed: the page should show it again (totals, discount). */
	changed: boolean;
	/** The promo code is on the checkout (now or already). */
	promoApplied: boolean;
	/** Why Saleor refused the promo code, in its words (e.g. "Promo code is invalid"). */
	promoRefused: string | null;
};

const running = new Map<string, Promise<ApplyOutcome>>();

export function applyPendingCodes(saleorApiUrl: string, checkoutId: string, codes: PendingCodes): Promise<ApplyOutcome> {
	const key = `${checkoutId}|${codes.promo ?? ""}|${codes.referralCode ?? ""}`;
	let attempt = running.get(key);
	if (!attempt) {
		attempt = apply(saleorApiUrl, checkoutId, codes).finally(() => running.delete(key));
		running.set(key, attempt);
	}
	return attempt;
}

async function apply(saleorApiUrl: string, checkoutId: string, codes: PendingCodes): Promise<ApplyOutcome> {
	const outcome: ApplyOutcome = { changed: false, promoApplied: false, promoRefused: null };
	const { checkout } = await saleorRequest<ReferralCheckoutResult>(saleorApiUrl, REFERRAL_CHECKOUT, {
		id: checkoutId,
	});
	if (!checkout) return outcome; // gone (completed or expired): keep the codes for the next checkout
	if (codes.promo) {
		if (checkout.voucherCode === codes.promo) {
			outcome.promoApplied = true;
		} else {
			const { checkoutAddPromoCode: result } = await saleorRequest<ApplyFriendCodeResult>(
				saleorApiUrl,
				APPLY_FRIEND_CODE,
				{ id: checkoutId, code: codes.promo },
			);
			const refusal = result?.errors?.[0];
			if (refusal) {
				outcome.promoRefused = refusal.message ?? refusal.code;
			} else {
				outcome.promoApplied = true;
				outcome.changed = true;
			}
		}
	}
	if (codes.referralCode && !checkout.referralCode) {
		const { updateMetadata: result } = await saleorRequest<RememberReferralResult>(saleorApiUrl, REMEMBER_REFERRAL, {
			id: checkoutId,
			referralCode: codes.referralCode,
		});
		outcome.changed = outcome.changed || !result?.errors?.length;
	}
	forgetPendingCodes();
	return outcome;
}
