import type pg from 'pg';
import { expect } from 'vitest';
import { insertRow } from '../seed-rows.ts';
import type { Scenario } from './scenario.ts';

const ADA = 101;
const BOB = 202;
const CAROL = 303;
/** Ada's local account (local_user.id, not her person id). */
const ADA_LOCAL = 11;
const BOB_LOCAL = 22;
const CAROL_LOCAL = 33;

/** A JSON Web Token's shape (header.payload.signature, base64url), its signature `signature` padded to 43 characters. */
function jwt(payload: object, signature: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}.${signature.padEnd(43, 'Qm9ndXNTaWduYXR1cmU')}`;
}

/** A PEM private key, as Lemmy keeps one for every local person and community (ActivityPub signing); `marker` in its base64 body. */
function pem(marker: string): string {
  return `-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC${marker}AAAA\nq0ZuXz0Jv3cWkTfL8yPZbNnW2rHxE4a7mVd1sQ==\n-----END PRIVATE KEY-----\n`;
}

/**
 * Lemmy 0.19.20 (a link aggregator; federated): a person (person, integer
 * ids) and their local account (local_user, whose id is not the person's).
 * Ada posts in a community, comments, messages Bob; Carol moderates and
 * administers. What a reviewer adopting Lemmy found in unedited drafts, each
 * seeded to hold it: the moderation log names the moderator (mod_person_id,
 * admin_person_id) and their reason, also where it is about Ada's post or
 * comment; an admin's purge of Bob's comment on Ada's post (its reason names
 * Bob); Bob following Ada (his row, person_follower.follower_id), Bob
 * blocking Ada, Bob reporting her content; who resolved a report and who
 * approved an application (resolver_id, admin_id); private messages between
 * Bob and Carol; and the credentials: a bcrypt hash, a TOTP secret, ActivityPub
 * private keys (PEM), pict-rs delete tokens, login JWTs, password reset and
 * email verification tokens.
 */
export const scenario: Scenario = {
  app: 'lemmy',
  decided: false,
  userTable: 'person',
  async seed(db: pg.Pool) {
    await insertRow(db, 'instance', { id: 1, domain: 'lemmy.example.org', software: 'lemmy', version: '0.19.20' });
    for (const [id, local, who] of [
      [ADA, ADA_LOCAL, 'ADA'],
      [BOB, BOB_LOCAL, 'BOB'],
      [CAROL, CAROL_LOCAL, 'CAROL'],
    ] as const) {
      const name = who.toLowerCase();
      await insertRow(db, 'person', {
        id,
        name,
        display_name: `${who}-DISPLAY-NAME`,
        bio: `${who}-BIO`,
        actor_id: `https://lemmy.example.org/u/${name}`,
        inbox_url: `https://lemmy.example.org/u/${name}/inbox`,
        public_key: `-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA${who}PUBLIC\n-----END PUBLIC KEY-----\n`,
        private_key: pem(`SECRETPEMPERSON${who}`),
        instance_id: 1,
      });
      await insertRow(db, 'local_user', {
        id: local,
        person_id: id,
        email: `${name}@example.org`,
        // A bcrypt hash, as Lemmy stores one; a TOTP secret (an otpauth URL, base32) for Ada.
        password_encrypted: `$2b$12$SECRETPWHASH${who}R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW`.slice(
          0,
          60,
        ),
        totp_2fa_secret: `otpauth://totp/lemmy.example.org:${name}?secret=SECRETTOTP${who}A7Q&issuer=lemmy.example.org`,
        totp_2fa_enabled: true,
        admin: who === 'CAROL',
        email_verified: true,
        accepted_application: true,
      });
      await insertRow(db, 'login_token', {
        token: jwt({ sub: String(local), iss: 'lemmy.example.org', iat: 1_700_000_000 }, `SECRETJWTSIG${who}`),
        user_id: local,
        ip: '203.0.113.7',
        user_agent: `${who}-BROWSER`,
      });
      await insertRow(db, 'local_image', {
        local_user_id: local,
        pictrs_alias: `${name}-avatar.png`,
        pictrs_delete_token: `SECRETDELETETOKEN${who}`,
      });
      await insertRow(db, 'password_reset_request', { token: `SECRETRESETTOKEN${who}`, local_user_id: local });
      await insertRow(db, 'email_verification', {
        local_user_id: local,
        email: `${name}.new@example.org`,
        verification_token: `SECRETVERIFYTOKEN${who}`,
      });
    }
    await insertRow(db, 'community', {
      id: 1,
      name: 'gardening',
      title: 'Gardening',
      actor_id: 'https://lemmy.example.org/c/gardening',
      inbox_url: 'https://lemmy.example.org/c/gardening/inbox',
      followers_url: 'https://lemmy.example.org/c/gardening/followers',
      public_key:
        '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAcommunityPUBLIC\n-----END PUBLIC KEY-----\n',
      private_key: pem('SECRETPEMCOMMUNITY'),
      instance_id: 1,
    });
    for (const person of [ADA, BOB, CAROL])
      await insertRow(db, 'community_follower', { community_id: 1, person_id: person, pending: false });
    await insertRow(db, 'community_moderator', { community_id: 1, person_id: CAROL });

    // Posts and comments: Ada's post, Bob's post; Ada's comment on Bob's post, Bob's comments on Ada's.
    const post = async (id: number, creator: number, title: string, body: string) =>
      insertRow(db, 'post', {
        id,
        name: title,
        body,
        creator_id: creator,
        community_id: 1,
        ap_id: `https://lemmy.example.org/post/${id}`,
      });
    const comment = async (id: number, creator: number, postId: number, content: string) =>
      insertRow(db, 'comment', {
        id,
        creator_id: creator,
        post_id: postId,
        content,
        ap_id: `https://lemmy.example.org/comment/${id}`,
      });
    await post(1, ADA, 'ADA-POST-TITLE', 'ADA-POST-BODY');
    await post(2, BOB, 'BOB-POST-TITLE', 'BOB-POST-BODY');
    await comment(1, ADA, 2, 'ADA-COMMENT-ON-BOB-POST');
    await comment(2, BOB, 1, 'BOB-COMMENT-ON-ADA-POST');
    // A comment of Bob's that Ada reports (her report copies its text: not marked); Bob's spam on her post, purged.
    await comment(3, BOB, 2, 'a rude remark');
    await comment(4, BOB, 1, 'spam, purged below');
    await insertRow(db, 'comment_reply', { recipient_id: ADA, comment_id: 2 });
    await insertRow(db, 'post_like', { person_id: ADA, post_id: 2, score: 1 });
    await insertRow(db, 'post_like', { person_id: BOB, post_id: 1, score: 1 });
    await insertRow(db, 'comment_like', { person_id: BOB, comment_id: 1, post_id: 2, score: -1 });

    // Private messages: Ada's with Bob (hers), Bob's with Carol (not hers).
    const message = async (id: number, from: number, to: number, content: string) =>
      insertRow(db, 'private_message', {
        id,
        creator_id: from,
        recipient_id: to,
        content,
        ap_id: `https://lemmy.example.org/private_message/${id}`,
      });
    await message(1, ADA, BOB, 'ADA-TO-BOB-MESSAGE');
    await message(2, BOB, ADA, 'BOB-TO-ADA-MESSAGE');
    await message(3, BOB, CAROL, 'BOB-TO-CAROL-MESSAGE');
    await message(4, CAROL, BOB, 'CAROL-TO-BOB-MESSAGE');

    // Following and blocking: Ada follows Carol and blocks her (Ada's rows); Bob follows Ada and blocks her (Bob's).
    await insertRow(db, 'person_follower', { person_id: CAROL, follower_id: ADA, pending: false });
    await insertRow(db, 'person_follower', { person_id: ADA, follower_id: BOB, pending: false });
    await insertRow(db, 'person_block', { person_id: ADA, target_id: CAROL });
    await insertRow(db, 'person_block', { person_id: BOB, target_id: ADA });

    // Bob's reports of Ada's content (his); Ada's report of Bob's comment, resolved by Carol.
    await insertRow(db, 'comment_report', {
      creator_id: BOB,
      comment_id: 1,
      original_comment_text: 'ADA-COMMENT-ON-BOB-POST',
      reason: 'BOB-REPORTS-ADA-COMMENT',
    });
    await insertRow(db, 'post_report', {
      creator_id: BOB,
      post_id: 1,
      original_post_name: 'ADA-POST-TITLE',
      reason: 'BOB-REPORTS-ADA-POST',
    });
    await insertRow(db, 'private_message_report', {
      creator_id: BOB,
      private_message_id: 1,
      original_pm_text: 'ADA-TO-BOB-MESSAGE',
      reason: 'BOB-REPORTS-ADA-MESSAGE',
    });
    await insertRow(db, 'comment_report', {
      creator_id: ADA,
      comment_id: 3,
      original_comment_text: 'a rude remark',
      reason: 'ADA-REPORT-REASON',
      resolved: true,
      resolver_id: CAROL,
    });

    // Registration: Ada's application, approved by Carol; Bob's, denied by her.
    await insertRow(db, 'registration_application', {
      local_user_id: ADA_LOCAL,
      answer: 'ADA-APPLICATION-ANSWER',
      admin_id: CAROL,
    });
    await insertRow(db, 'registration_application', {
      local_user_id: BOB_LOCAL,
      answer: 'BOB-APPLICATION-ANSWER',
      admin_id: CAROL,
      deny_reason: 'CAROL-DENIES-BOB',
    });

    // The moderation log: Carol acts on Ada's comment and post; an admin purges Bob's comment from Ada's post.
    await insertRow(db, 'mod_remove_comment', {
      mod_person_id: CAROL,
      comment_id: 1,
      reason: 'MODLOG-REMOVE-COMMENT-REASON',
      removed: true,
    });
    await insertRow(db, 'mod_remove_post', {
      mod_person_id: CAROL,
      post_id: 1,
      reason: 'MODLOG-REMOVE-POST-REASON',
      removed: true,
    });
    await insertRow(db, 'mod_lock_post', { mod_person_id: CAROL, post_id: 1, locked: true });
    await insertRow(db, 'mod_feature_post', { mod_person_id: CAROL, post_id: 1, featured: true });
    await db.query('delete from comment where id = 4');
    await insertRow(db, 'admin_purge_comment', {
      admin_person_id: CAROL,
      post_id: 1,
      reason: 'PURGED-SPAM-BY-BOB-THE-SPAMMER',
    });

    return {
      person: String(ADA),
      mine: [
        'ADA-DISPLAY-NAME',
        'ADA-BIO',
        'ada@example.org',
        'ADA-POST-TITLE',
        'ADA-POST-BODY',
        'ADA-COMMENT-ON-BOB-POST',
        'ADA-TO-BOB-MESSAGE',
        'BOB-TO-ADA-MESSAGE',
        'ADA-REPORT-REASON',
        'ADA-APPLICATION-ANSWER',
      ],
      others: [
        'BOB-DISPLAY-NAME',
        'BOB-BIO',
        'bob@example.org',
        'BOB-BROWSER',
        'BOB-POST-TITLE',
        'BOB-POST-BODY',
        'BOB-COMMENT-ON-ADA-POST',
        'BOB-TO-CAROL-MESSAGE',
        'CAROL-TO-BOB-MESSAGE',
        'BOB-REPORTS-ADA-COMMENT',
        'BOB-REPORTS-ADA-POST',
        'BOB-REPORTS-ADA-MESSAGE',
        'BOB-APPLICATION-ANSWER',
        'CAROL-DENIES-BOB',
        'CAROL-DISPLAY-NAME',
        'CAROL-BIO',
        'carol@example.org',
        'CAROL-BROWSER',
        'MODLOG-REMOVE-COMMENT-REASON',
        'MODLOG-REMOVE-POST-REASON',
        'PURGED-SPAM-BY-BOB-THE-SPAMMER',
      ],
      secrets: [
        'SECRETPWHASH',
        'SECRETTOTP',
        'SECRETPEMPERSON',
        'SECRETPEMCOMMUNITY',
        'SECRETJWTSIG',
        'SECRETDELETETOKEN',
        'SECRETRESETTOKEN',
        'SECRETVERIFYTOKEN',
      ],
    };
  },
  draftHolds(files) {
    const rows = [...files].flatMap(([name, bytes]) =>
      /^json\/[^/]+\.json$/.test(name)
        ? (JSON.parse(bytes.toString()) as Record<string, unknown>[]).map((row) => ({ name, row }))
        : [],
    );
    expect(rows.length, 'the archive has JSON rows').toBeGreaterThan(0);
    for (const { name, row } of rows) {
      // Who moderated, purged, resolved or approved: Carol's identity, never in Ada's archive.
      for (const key of ['mod_person_id', 'admin_person_id', 'resolver_id', 'admin_id'])
        expect(row[key], `${name}: ${key} names the moderator/admin`).not.toBe(CAROL);
      // Bob following Ada is Bob's row; a row of person_follower in her archive is one she made.
      if ('follower_id' in row) expect(row.follower_id, `${name}: another person's follow`).toBe(ADA);
      // Bob blocking Ada is Bob's row.
      if ('target_id' in row) expect(row.target_id, `${name}: another person's block`).not.toBe(ADA);
    }
  },
};
