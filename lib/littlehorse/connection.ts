import {
  type CallOptions,
  type Channel,
  ChannelCredentials,
  type Client,
  type ClientMiddlewareCall,
  createChannel,
  createClientFactory,
  Metadata,
} from 'nice-grpc';
import type { LittleHorseConfig } from '../config.js';
import { clientCredentialsToken } from './oauth.js';
import { quotaRetry } from './quota-retry.js';
import { LittleHorseService } from './count-task-run.js';

export type LittleHorseClient = Client<typeof LittleHorseService>;

/**
 * Clients for the bootstrap server and for every host RegisterTaskWorker assigns us, sharing one set
 * of credentials (PLAINTEXT, TLS with LHC_CA_CERT, mutual TLS) and per-call metadata (tenant id,
 * OAuth bearer token). The npm LHConfig cannot do this: it reads no environment, knows only the
 * bootstrap host and has no mTLS or OAuth.
 */
export class LittleHorseConnections {
  private readonly channels = new Map<string, Channel>();
  private readonly clients = new Map<string, LittleHorseClient>();
  private readonly credentials: ChannelCredentials;
  private readonly factory;

  constructor(private readonly config: LittleHorseConfig) {
    this.credentials = credentialsFor(config);
    const token = config.oauth ? clientCredentialsToken(config.oauth) : undefined;
    const tenantId = config.tenantId;
    const withMetadata = createClientFactory().use(async function* metadata<Req, Res>(
      call: ClientMiddlewareCall<Req, Res>,
      options: CallOptions,
    ) {
      const headers = Metadata(options.metadata).set('tenantid', tenantId);
      if (token) headers.set('authorization', `Bearer ${await token()}`);
      return yield* call.next(call.request, { ...options, metadata: headers });
    });
    // The last middleware added runs first: each retry goes through the metadata step again (fresh token).
    this.factory = config.resourceExhaustedRetry ? withMetadata.use(quotaRetry()) : withMetadata;
  }

  get bootstrapAddress(): string {
    return `${this.config.host}:${this.config.port}`;
  }

  bootstrap(): LittleHorseClient {
    return this.client(this.bootstrapAddress);
  }

  client(address: string): LittleHorseClient {
    let client = this.clients.get(address);
    if (!client) {
      const channel = createChannel(address, this.credentials, {
        // grpc-js' default reconnect backoff climbs to 120 s; keep the first retry fast and the ceiling low.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2_000,
        'grpc.keepalive_time_ms': this.config.keepaliveTimeMs,
        'grpc.keepalive_timeout_ms': this.config.keepaliveTimeoutMs,
        // LittleHorse permits pings every ≥ 15 s even without calls (LHServerListener).
        'grpc.keepalive_permit_without_calls': 1,
        // A task carries its input variables whole; grpc-js' 4 MiB default would break PollTask on a big one.
        'grpc.max_receive_message_length': this.config.maxReceiveMessageLength,
      });
      client = this.factory.create(LittleHorseService, channel);
      this.channels.set(address, channel);
      this.clients.set(address, client);
    }
    return client;
  }

  /**
   * Where a task's report goes: the host that handed it out, then the bootstrap server (which takes
   * any report). A host LittleHorse has reassigned meanwhile is skipped: its channel is closed, and
   * reopening it would leave one that nobody closes.
   */
  reportClients(address: string): LittleHorseClient[] {
    const host = this.clients.get(address);
    const bootstrap = this.bootstrap();
    return host && host !== bootstrap ? [host, bootstrap] : [bootstrap];
  }

  /** Closes a host's channel once RegisterTaskWorker stops listing it. */
  release(address: string): void {
    if (address === this.bootstrapAddress) return;
    this.channels.get(address)?.close();
    this.channels.delete(address);
    this.clients.delete(address);
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    this.clients.clear();
  }
}

function credentialsFor(config: LittleHorseConfig): ChannelCredentials {
  if (config.protocol !== 'TLS') return ChannelCredentials.createInsecure();
  const { ca, key, cert } = config.certificates;
  return ChannelCredentials.createSsl(ca ?? null, key ?? null, cert ?? null);
}
