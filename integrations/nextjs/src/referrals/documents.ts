// What the cart component sends to Saleor from the browser. None of it needs a permission: a
// checkout's id is its key, and public checkout metadata is writable by whoever holds it (Saleor
// copies it to the order). Valid on Saleor 3.21, 3.22 and 3.23 (the app's test suite checks).

export const REFERRAL_CHECKOUT = /* GraphQL */ `
  query ReferralCheckout($id: ID!) {
    checkout(id: $id) {
      id
      voucherCode
      referralCode: metafield(key: "referral_code")
    }
  }
`;

export const APPLY_FRIEND_CODE = /* GraphQL */ `
  mutation ApplyFriendCode($id: ID!, $code: String!) {
    checkoutAddPromoCode(id: $id, promoCode: $code) {
      checkout {
        id
        voucherCode
      }
      errors {
        field
        code
        message
      }
    }
  }
`;

export const REMEMBER_REFERRAL = /* GraphQL */ `
  mutation RememberReferral($id: ID!, $referralCode: String!) {
    updateMetadata(id: $id, input: [{ key: "referral_code", value: $referralCode }]) {
      errors {
        field
        code
        message
      }
    }
  }
`;

export type SaleorError = { field: string | null; code: string; message: string | null };

export type ReferralCheckoutResult = {
  checkout: { id: string; voucherCode: string | null; referralCode: string | null } | null;
};
export type ApplyFriendCodeResult = {
  checkoutAddPromoCode: { checkout: { id: string; voucherCode: string | null } | null; errors: SaleorError[] } | null;
};
export type RememberReferralResult = {
  updateMetadata: { errors: SaleorError[] } | null;
};
