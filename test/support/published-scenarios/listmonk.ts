import type pg from 'pg';
import { expect } from 'vitest';
import { insertRow } from '../seed-rows.ts';
import type { Scenario } from './scenario.ts';

const ADA = 101;
const BOB = 202;
const CAROL = 303;

/** A JSON Web Token's shape (header.payload.signature, base64url), its signature `signature` padded to 43 characters. */
function jwt(payload: object, signature: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}.${signature.padEnd(43, 'dBjftJeZ4CVPmB92K27uhbUJU1p1r')}`;
}

/**
 * listmonk (a newsletter and mailing list manager): a person is a subscriber
 * (subscribers, integer ids), with free-form attributes (attribs, jsonb) an
 * integrating application fills; here it keeps a session token (a JWT) in
 * them for every subscriber, which the draft must leave out. Ada, Bob and
 * Carol subscribe to lists, view a campaign, click its link, and bounce; Bob's
 * and Carol's memberships, views, clicks and bounces are not Ada's. The admin
 * user's password hash, TOTP key and session are credentials. (subscribers.uuid,
 * a bearer id in listmonk's public links, the draft exports with a TODO: not
 * asserted here.)
 */
export const scenario: Scenario = {
  app: 'listmonk',
  decided: false,
  userTable: 'subscribers',
  async seed(db: pg.Pool) {
    for (const [id, who] of [
      [ADA, 'ADA'],
      [BOB, 'BOB'],
      [CAROL, 'CAROL'],
    ] as const) {
      await insertRow(db, 'subscribers', {
        id,
        email: `${who.toLowerCase()}@example.org`,
        name: `${who}-SUBSCRIBER-NAME`,
        attribs: JSON.stringify({
          city: `${who}-CITY`,
          plan: 'pro',
          app_session: jwt({ sub: who.toLowerCase(), iat: 1_700_000_000 }, `SECRETJWTSIG${who}`),
        }),
        status: 'enabled',
      });
    }
    await insertRow(db, 'lists', { id: 1, name: 'Weekly newsletter', type: 'public', optin: 'double' });
    // A list Ada is not in: Bob's and Carol's.
    await insertRow(db, 'lists', { id: 2, name: 'LIST-WITHOUT-ADA', type: 'private', optin: 'single' });
    await insertRow(db, 'subscriber_lists', {
      subscriber_id: ADA,
      list_id: 1,
      status: 'confirmed',
      meta: JSON.stringify({ optin_note: 'ADA-OPTIN-META' }),
    });
    for (const [list, who] of [
      [1, 'BOB'],
      [2, 'BOB'],
      [2, 'CAROL'],
    ] as const)
      await insertRow(db, 'subscriber_lists', {
        subscriber_id: who === 'BOB' ? BOB : CAROL,
        list_id: list,
        status: 'confirmed',
        meta: JSON.stringify({ optin_note: `${who}-OPTIN-META-${list}` }),
      });
    await insertRow(db, 'campaigns', {
      id: 1,
      name: 'January newsletter',
      subject: 'Hello',
      from_email: 'News <news@example.org>',
      body: '<p>Read <a href="https://example.org/jan">this</a></p>',
      status: 'finished',
      messenger: 'email',
    });
    await insertRow(db, 'campaign_lists', { campaign_id: 1, list_id: 1, list_name: 'Weekly newsletter' });
    await insertRow(db, 'links', { id: 1, url: 'https://example.org/jan' });
    for (const subscriber of [ADA, BOB, BOB, CAROL]) {
      await insertRow(db, 'campaign_views', { campaign_id: 1, subscriber_id: subscriber });
      await insertRow(db, 'link_clicks', { campaign_id: 1, link_id: 1, subscriber_id: subscriber });
    }
    for (const [id, who] of [
      [ADA, 'ADA'],
      [BOB, 'BOB'],
    ] as const)
      await insertRow(db, 'bounces', {
        subscriber_id: id,
        campaign_id: 1,
        type: 'soft',
        source: 'api',
        meta: JSON.stringify({ email: `${who.toLowerCase()}@example.org`, reason: `${who}-BOUNCE-REASON` }),
      });

    // The administrator: a role, a login with a bcrypt hash and a TOTP key, a session.
    const role = await insertRow(db, 'roles', { type: 'user', name: 'Admin', permissions: '{}' });
    await insertRow(db, 'users', {
      username: 'admin',
      password_login: true,
      password: '$2a$10$SECRETADMINHASHqo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'.slice(0, 60),
      email: 'admin@example.org',
      name: 'ADMIN-USER-NAME',
      user_role_id: role.id,
      status: 'enabled',
      twofa_type: 'totp',
      twofa_key: 'SECRETADMINTOTPK',
    });
    await insertRow(db, 'sessions', { id: 'SECRETSESSIONID4f9c2a7be1d84b0a', data: JSON.stringify({ user_id: 1 }) });

    return {
      person: String(ADA),
      mine: ['ada@example.org', 'ADA-SUBSCRIBER-NAME', 'ADA-CITY', 'ADA-OPTIN-META', 'ADA-BOUNCE-REASON'],
      others: [
        'bob@example.org',
        'BOB-SUBSCRIBER-NAME',
        'BOB-CITY',
        'BOB-OPTIN-META',
        'BOB-BOUNCE-REASON',
        'carol@example.org',
        'CAROL-SUBSCRIBER-NAME',
        'CAROL-CITY',
        'CAROL-OPTIN-META',
        'LIST-WITHOUT-ADA',
        'admin@example.org',
        'ADMIN-USER-NAME',
      ],
      secrets: ['SECRETJWTSIG', 'SECRETADMINHASH', 'SECRETADMINTOTP', 'SECRETSESSIONID'],
    };
  },
  draftHolds(files) {
    const rows = [...files].flatMap(([name, bytes]) =>
      /^json\/[^/]+\.json$/.test(name)
        ? (JSON.parse(bytes.toString()) as Record<string, unknown>[]).map((row) => ({ name, row }))
        : [],
    );
    expect(rows.length, 'the archive has JSON rows').toBeGreaterThan(0);
    // Another subscriber's list memberships, campaign views, link clicks and bounces: ids alone, no marker says them.
    for (const { name, row } of rows)
      if ('subscriber_id' in row) expect(row.subscriber_id, `${name}: another subscriber's row`).toBe(ADA);
  },
};
