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
 */
export class SecretVerifier {
  constructor(
    private readonly admission: Admission,
    /** The argon2id verification; a parameter so that tests can count the real calls. */
    private readonly verifyHash: (hash: string, presented: string) => Promise<boolean> = verifySecret,
    /** Called once per verification, for the metrics. */
    private readonly onVerification: () => void = () => {},
  ) {}

  /** The live secret that `presented` matches, or undefined. Throws Overloaded when the queue is full. */
  match(live: readonly StoredSecret[], presented: string): Promise<StoredSecret | undefined> {
    return this.admission.run(async () => {
      const slot = secretSlot(presented);
      const candidates = live.filter((secret) => secret.slot === slot || secret.slot === null);
      for (let i = 0; i < Math.max(candidates.length, 1); i++) {
        const candidate = candidates[i];
        this.onVerification();
        const verified = await this.verifyHash(candidate?.hash ?? (await dummySecretHash()), presented);
        if (verified && candidate !== undefined) return candidate;
      }
      return undefined;
    });
  }

  /** Whether a verification asked for now would be refused (Overloaded). */
  get full(): boolean {
    return this.admission.full;
  }

  /** Spends what a wrong secret costs, for a refusal decided without checking one. */
  async refuse(presented: string): Promise<void> {
    await this.match([], presented);
  }
}
