"""The one HTTP layer shared by the ClaimX API client and the webhook client."""
