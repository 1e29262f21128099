import { createHmac, randomBytes } from 'node:crypto';
import type { Admission } from '../protection/admission.js';
import { dummySecretHash, type SecretSlot, secretSlot, verifySecret } from './secrets.js';

/** A client secret as stored: an argon2id hash, live until `expiresAt` (null: no end). */
export interface StoredSecret {
  id: string;
  hash: string;
  /** See secretSlot; null for a secret made before slots existed. */
  slot: SecretSlot | null;
  expiresAt: number | null;
  /** The secret contains `+` (known from when it was stored). */
  containsPlus: boolean;
}

/**
 * argon2id verification of presented secrets, the one place that spends it on the token,
 * introspection and revocation endpoints.
 *
 * Constant cost: a presented secret is checked against the one live secret in its slot
 * (see secretSlot), or against a dummy hash when there is none, so a secret that matches
 * nothing costs one verification whether the client has two live secrets (mid-rotation),
 * one, or none at all (an unknown client, or any other refusal: see `refuse`): the time of
 * a refusal tells an outsider nothing about the client. The one exception is a pair whose
 * previous secret was made before slots existed and has not verified since: it could be in
 * either slot, so it is checked as well, until its grace period ends.
 *
 * Admission: the verifications of one request run as one unit of work under `admission`
 * (about one per core, a short queue, Overloaded beyond it), so a flood of wrong secrets
 * cannot queue up more argon2 work than the machine does in a few milliseconds.
 *
 * One flight per secret: requests that present the same secret for the same client while
 * its verification is under way (a client that sends its first requests in parallel, as
 * many do after every deploy) wait for that verification and share its answer, instead of
 * each taking a place in the queue. Flights are told apart by an HMAC, under a key of this
 * process, of the client_id, the stored secrets checked and the presented secret: a
 * request joins only a verification of exactly what it presented, so another secret, right
 * or wrong, never rides on one. A flight is forgotten as soon as it ends: a failure is
 * never kept, and the same wrong secret presented again is verified again. Refusals of
 * unknown clients merge the same way as wrong secrets of known ones, so the merge tells an
 * outsider nothing about which client_ids exist.
 */
export class SecretVerifier {
  private readonly flights = new Map<string, Promise<StoredSecret | undefined>>();
  private readonly flightKey = randomBytes(32);

  constructor(
    private readonly admission: Admission,
    /** The argon2id verification; a parameter so that tests can count the real calls. */
    private readonly verifyHash: (hash: string, presented: string) => Promise<boolean> = verifySecret,
    /** Called once per verification, for the metrics. */
    private readonly onVerification: () => void = () => {},
  ) {}

  /**
   * The live secret of `clientId` that `presented` matches, or undefined. Throws Overloaded
   * when the queue is full (and so does every request that joined that flight).
   */
  match(clientId: string, live: readonly StoredSecret[], presented: string): Promise<StoredSecret | undefined> {
    const slot = secretSlot(presented);
    const candidates = live.filter((secret) => secret.slot === slot || secret.slot === null);
    const key = this.flightOf(clientId, candidates, presented);
    const joined = this.flights.get(key);
    if (joined !== undefined) return joined;
    const flight = this.admission.run(() => this.verifyCandidates(candidates, presented));
    this.flights.set(key, flight);
    const land = () => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    flight.then(land, land);
    return flight;
  }

  /** Whether a verification asked for now would be refused (Overloaded). */
  get full(): boolean {
    return this.admission.full;
  }

  /** Spends what a wrong secret for `clientId` costs, for a refusal decided without checking one. */
  async refuse(clientId: string, presented: string): Promise<void> {
    await this.match(clientId, [], presented);
  }

  private async verifyCandidates(candidates: readonly StoredSecret[], presented: string): Promise<StoredSecret | undefined> {
    for (let i = 0; i < Math.max(candidates.length, 1); i++) {
      const candidate = candidates[i];
      this.onVerification();
      const verified = await this.verifyHash(candidate?.hash ?? (await dummySecretHash()), presented);
      if (verified && candidate !== undefined) return candidate;
    }
    return undefined;
  }

  /** What a flight is keyed by: never the secret itself, even in memory for the length of a verification. */
  private flightOf(clientId: string, candidates: readonly StoredSecret[], presented: string): string {
    const hmac = createHmac('sha256', this.flightKey).update(clientId).update('\0');
    for (const secret of candidates) hmac.update(secret.id).update(':').update(secret.hash).update('\0');
    return hmac.update(presented).digest('base64');
  }
}
