"use client";

// The share widget of the referral app on the order confirmation page. It adds a fresh <script>
// on every mount, so a second order in the same browser session gets its own widget (next/script
// would load the file once per session). Nothing shows until the order counts (paid by default).

import { useEffect, useRef } from "react";

export type ReferralWidgetProps = {
	/** The order's global ID (`order.id`), not its number. */
	orderId: string;
	/** `en`, `ru`, `pl`, `lv`; defaults to the order's language. */
	locale?: string;
	theme?: "light" | "dark" | "auto";
	/** The referral app's public URL; defaults to NEXT_PUBLIC_REFERRALS_APP_URL. */
	appUrl?: string;
	/** Saleor's API URL exactly as the app was installed; defaults to NEXT_PUBLIC_SALEOR_API_URL. */
	saleorApiUrl?: string;
};

export function ReferralWidget({ orderId, locale, theme, appUrl, saleorApiUrl }: ReferralWidgetProps) {
	const host = useRef<HTMLDivElement>(null);
	const app = (appUrl ?? process.env.NEXT_PUBLIC_REFERRALS_APP_URL ?? "").replace(/\/+$/, "");
	const api = saleorApiUrl ?? process.env.NEXT_PUBLIC_SALEOR_API_URL ?? "";

	useEffect(() => {
		const element = host.current;
		if (!element || !/^https?:\/\//.test(app) || !api || !orderId) return;
		const script = document.createElement("script");
		script.src = `${app}/widget.js`;
		script.async = true;
		script.dataset.saleorApiUrl = api;
		script.dataset.orderId = orderId;
		if (locale) script.dataset.locale = locale;
		if (theme) script.dataset.theme = theme;
		element.appendChild(script);
		return () => element.replaceChildren();
	}, [app, api, orderId, locale, theme]);

	return <div ref={host} data-referral-widget="" />;
}
