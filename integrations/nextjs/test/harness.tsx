// A minimal page for the browser test: the cart component as saleor/storefront renders it, in
// React's StrictMode (effects run twice in development; the codes must still be written once).

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ReferralCart } from "../src/referrals";

const root = document.getElementById("cart");
if (!root) throw new Error("the harness page needs <div id=cart>");
window.referralHarness = { refreshes: 0 };

createRoot(root).render(
	<StrictMode>
		<ReferralCart checkoutId={root.dataset.checkoutId} saleorApiUrl={root.dataset.saleorApiUrl} />
	</StrictMode>,
);
