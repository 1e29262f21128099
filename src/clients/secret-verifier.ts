import { createHmac, randomBytes } from 'node:crypto';
import type { Admission } from '../protection/admission.js';
import { dummySecretHash, type PresentedSecret, type SecretSlot, secretSlot, verifySecret } from './secrets.js';

/** A client's secret credential as stored: an argon2id hash, live until `expiresAt` (null: no end). */
export interface StoredSecret {
  /** The credential's id (`cred_…`). */
  id: string;
  hash: string;
  /** The secret names this credential (see generateSelfIdentifyingSecret). */
  selfIdentifying: boolean;
  /** For an opaque secret, see secretSlot; null when not known yet (and for self-identifying ones). */
  slot: SecretSlot | null;
  expiresAt: number | null;
  /** The secret contains `+` (known from when it was stored). */
  containsPlus: boolean;
}

/**
 * argon2id verification of presented secrets, the one place that spends it on the token,
 * introspection and revocation endpoints.
 *
 * Constant cost: a presented secret is checked against at most one candidate (see
 * candidatesFor), or against a dummy hash when there is none, so a secret that matches
 * nothing costs one verification whether the client has five live secrets, one, or none at
 * all (an unknown client, or any other refusal: see `refuse`): the time of a refusal tells
 * an outsider nothing about the client. The one exception is a pair of opaque secrets
 * (made before self-identifying secrets) whose older one was made before slots existed and
 * has not verified since: it could be in either slot, so it is checked as well.
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
  match(clientId: string, candidates: readonly StoredSecret[], presented: string): Promise<StoredSecret | undefined> {
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

/**
 * Which of a client's live secrets a presented one can be, without argon2: a
 * self-identifying secret only the credential it names; an opaque one only the opaque
 * secrets of its slot (or of a slot not known yet). At most one, but for the exception
 * described at SecretVerifier.
 */
export function candidatesFor(live: readonly StoredSecret[], presented: string, read: PresentedSecret): StoredSecret[] {
  if (read.form === 'named') return live.filter((secret) => secret.selfIdentifying && secret.id === read.credentialId);
  if (read.form === 'forged') return [];
  const slot = secretSlot(presented);
  return live.filter((secret) => !secret.selfIdentifying && (secret.slot === slot || secret.slot === null));
}
