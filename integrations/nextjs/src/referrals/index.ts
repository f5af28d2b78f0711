export { ReferralCart, type ReferralCartProps } from "./referral-cart";
export { ReferralWidget, type ReferralWidgetProps } from "./referral-widget";
