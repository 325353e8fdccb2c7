import fetch from 'node-fetch';
import { z } from 'zod';

const tokenReplySchema = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive().optional(),
});

export interface OAuthSettings {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
}

/** Refresh this long before the token expires, so no call goes out with a token about to lapse. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * OAuth2 client credentials, as LittleHorse's SDKs use them (LHC_OAUTH_*): one token fetched,
 * cached, and refreshed before it expires; concurrent callers share one in-flight fetch.
 */
export function clientCredentialsToken(settings: OAuthSettings, now: () => number = Date.now): () => Promise<string> {
  let cached: { token: string; refreshAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  const fetchToken = async (): Promise<string> => {
    const response = await fetch(settings.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
      signal: AbortSignal.timeout(15_000),
    });
    const body: unknown = await response.json().catch(() => undefined);
    const parsed = tokenReplySchema.safeParse(body);
    if (!response.ok || !parsed.success) {
      throw new Error(
        `OAuth token request to LHC_OAUTH_ACCESS_TOKEN_URL failed (HTTP ${response.status}); check LHC_OAUTH_CLIENT_ID and LHC_OAUTH_CLIENT_SECRET`,
      );
    }
    const lifetimeMs = (parsed.data.expires_in ?? 300) * 1000;
    cached = { token: parsed.data.access_token, refreshAt: now() + Math.max(lifetimeMs - REFRESH_MARGIN_MS, lifetimeMs / 2) };
    return cached.token;
  };

  return async () => {
    if (cached && now() < cached.refreshAt) return cached.token;
    inFlight ??= fetchToken().finally(() => (inFlight = undefined));
    return inFlight;
  };
}
