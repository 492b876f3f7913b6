// Your values: the rp-server deployment and the user pool's app client (the one with
// ALLOW_CUSTOM_AUTH). The RP ID's domain must publish this app in its well-known files
// (README.md, "Your values").
export const config = {
  /** rp-server's public URL (RP_ID's site, or a host under it). */
  rpUrl: "https://passkeys.example.com",
  userPoolId: "eu-west-1_XXXXXXXXX",
  userPoolClientId: "xxxxxxxxxxxxxxxxxxxxxxxxxx",
};
