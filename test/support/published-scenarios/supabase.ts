import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { insertRow } from '../seed-rows.ts';
import type { Scenario } from './scenario.ts';

/**
 * Supabase Auth (its users in the schema auth) with an application in public
 * whose tables reference auth.users (vercel/nextjs-subscription-payments):
 * the person's login, their profile in public.users, their billing and
 * subscriptions; the other person's the same; tokens and a password hash.
 */
export const scenario: Scenario = {
  app: 'supabase',
  decided: true,
  userTable: 'auth.users',
  async seed(db: pg.Pool) {
    const ada = randomUUID();
    const bob = randomUUID();
    for (const [id, who] of [
      [ada, 'ADA'],
      [bob, 'BOB'],
    ] as const) {
      await insertRow(db, 'auth.users', {
        id,
        email: `${who.toLowerCase()}@example.test`,
        // A bcrypt hash, as Supabase stores one; and the tokens it mails.
        encrypted_password: `$2a$10$${who}SECRETHASHxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`.slice(0, 60),
        confirmation_token: `SECRET-CONFIRM-${who}`,
        recovery_token: `SECRET-RECOVERY-${who}`,
        raw_user_meta_data: JSON.stringify({ full_name: `${who}-META-NAME` }),
      });
      await insertRow(db, 'auth.identities', {
        provider_id: `${who}-PROVIDER-ID`,
        user_id: id,
        identity_data: JSON.stringify({ email: `${who.toLowerCase()}@example.test`, sub: id }),
        provider: 'email',
      });
      // The application's trigger on auth.users made the profile row (handle_new_user): the person fills it in.
      await db.query('update public.users set full_name = $2, billing_address = $3 where id = $1', [
        id,
        `${who}-FULL-NAME`,
        JSON.stringify({ city: `${who}-CITY` }),
      ]);
      await insertRow(db, 'public.customers', { id, stripe_customer_id: `cus_${who}CUSTOMER` });
      const session = await insertRow(db, 'auth.sessions', { id: randomUUID(), user_id: id });
      await insertRow(db, 'auth.refresh_tokens', {
        token: `SECRET-REFRESH-${who}`,
        user_id: id,
        session_id: session.id,
      });
    }
    await insertRow(db, 'public.products', { id: 'prod_1', name: 'Pro plan', active: true });
    await insertRow(db, 'public.prices', { id: 'price_1', product_id: 'prod_1', active: true, currency: 'eur' });
    await insertRow(db, 'public.subscriptions', {
      id: 'sub_ADA',
      user_id: ada,
      price_id: 'price_1',
      metadata: JSON.stringify({ note: 'ADA-SUBSCRIPTION' }),
    });
    await insertRow(db, 'public.subscriptions', {
      id: 'sub_BOB',
      user_id: bob,
      price_id: 'price_1',
      metadata: JSON.stringify({ note: 'BOB-SUBSCRIPTION' }),
    });
    return {
      person: ada,
      mine: [
        'ada@example.test',
        'ADA-META-NAME',
        'ADA-PROVIDER-ID',
        'ADA-FULL-NAME',
        'ADA-CITY',
        'cus_ADACUSTOMER',
        'ADA-SUBSCRIPTION',
      ],
      others: [
        'bob@example.test',
        'BOB-META-NAME',
        'BOB-PROVIDER-ID',
        'BOB-FULL-NAME',
        'BOB-CITY',
        'cus_BOBCUSTOMER',
        'BOB-SUBSCRIPTION',
      ],
      secrets: ['SECRETHASH', 'SECRET-CONFIRM', 'SECRET-RECOVERY', 'SECRET-REFRESH'],
    };
  },
};
