import type pg from 'pg';
import { insertRow } from '../seed-rows.ts';
import type { Scenario } from './scenario.ts';

/**
 * Matrix Synapse: a user is a text id (`@ada:example.org`, users.name, no
 * primary key) and no table has a foreign key to it; a room's messages are
 * events whose body is in event_json; a profile's user_id is the local part
 * alone (its full_user_id the whole id). Schema version 94. Ada and Bob share a room and write in it; Bob reports Ada's message
 * and ignores her (his, never hers to see); each has a password hash, an
 * access token (also in user_ips) and a device.
 */
export const scenario: Scenario = {
  app: 'synapse',
  decided: true,
  userTable: 'users',
  userKey: 'name',
  async seed(db: pg.Pool) {
    const room = '!shared:example.org';
    const ada = '@ada:example.org';
    const bob = '@bob:example.org';
    await insertRow(db, 'rooms', { room_id: room, creator: ada, is_public: false, room_version: '10' });
    let ordering = 1;
    for (const [id, who] of [
      [ada, 'ADA'],
      [bob, 'BOB'],
    ] as const) {
      const local = who.toLowerCase();
      // A bcrypt hash, as Synapse stores one.
      await insertRow(db, 'users', {
        name: id,
        password_hash: `$2b$12$${who}SECRETHASHxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`.slice(0, 60),
        creation_ts: 1_700_000_000,
      });
      // A profile's user_id is the local part alone (ada); since version 76 full_user_id holds the whole id.
      await insertRow(db, 'profiles', { user_id: local, full_user_id: id, displayname: `${who}-PROFILE-NAME` });
      await insertRow(db, 'user_threepids', {
        user_id: id,
        medium: 'email',
        address: `${local}@example.org`,
        validated_at: 1,
        added_at: 1,
      });
      await insertRow(db, 'access_tokens', {
        id: ordering,
        user_id: id,
        device_id: `${who}DEVICE`,
        token: `syt_SECRET_TOKEN_${who}`,
      });
      await insertRow(db, 'devices', { user_id: id, device_id: `${who}DEVICE`, display_name: `${who}-PHONE` });
      await insertRow(db, 'user_ips', {
        user_id: id,
        access_token: `syt_SECRET_TOKEN_${who}`,
        device_id: `${who}DEVICE`,
        ip: '192.0.2.1',
        user_agent: `${who}-BROWSER`,
        last_seen: 1,
      });
      await insertRow(db, 'account_data', {
        user_id: id,
        account_data_type: 'im.vector.setting',
        stream_id: ordering,
        content: JSON.stringify({ theme: `${who}-ACCOUNT-DATA` }),
      });
      await insertRow(db, 'user_directory', { user_id: id, display_name: `${who}-DIRECTORY-NAME` });
      await insertRow(db, 'local_media_repository', {
        media_id: `${who}MEDIA`,
        media_type: 'image/png',
        upload_name: `${who}-UPLOAD.png`,
        user_id: id,
      });
      // Joining the room, and a message in it: the event's row (who sent it) and its body (event_json, keyed by the event's id).
      const join = `$${local}-join`;
      const message = `$${local}-message`;
      for (const [event, type, body] of [
        [join, 'm.room.member', { membership: 'join', displayname: `${who}-ROOM-NAME` }],
        [message, 'm.room.message', { msgtype: 'm.text', body: `${who}-MESSAGE` }],
      ] as const) {
        await insertRow(db, 'events', {
          event_id: event,
          type,
          room_id: room,
          sender: id,
          topological_ordering: ordering,
          stream_ordering: ordering,
          processed: true,
          outlier: false,
          origin_server_ts: 1_700_000_000_000 + ordering,
          ...(type === 'm.room.member' ? { state_key: id } : {}),
        });
        await insertRow(db, 'event_json', {
          event_id: event,
          room_id: room,
          internal_metadata: '{}',
          json: JSON.stringify({ type, sender: id, room_id: room, content: body }),
          format_version: 3,
        });
        ordering++;
      }
      await insertRow(db, 'event_search', {
        event_id: message,
        room_id: room,
        sender: id,
        key: 'content.body',
        vector: `${who}-MESSAGE`,
        origin_server_ts: 1,
      });
      await insertRow(db, 'room_memberships', {
        event_id: join,
        user_id: id,
        sender: id,
        room_id: room,
        membership: 'join',
        display_name: `${who}-ROOM-NAME`,
      });
    }
    // Bob's own doings about Ada: his report of her message, his ignoring her.
    await insertRow(db, 'event_reports', {
      id: 1,
      received_ts: 1,
      room_id: room,
      event_id: '$ada-message',
      user_id: bob,
      reason: 'BOB-REPORT-REASON',
    });
    await insertRow(db, 'ignored_users', { ignorer_user_id: bob, ignored_user_id: ada });
    return {
      person: ada,
      mine: [
        'ada@example.org',
        'ADA-PROFILE-NAME',
        'ADA-PHONE',
        'ADA-BROWSER',
        'ADA-ACCOUNT-DATA',
        'ADA-DIRECTORY-NAME',
        'ADA-UPLOAD.png',
        'ADA-ROOM-NAME',
        'ADA-MESSAGE',
      ],
      others: [
        'bob@example.org',
        'BOB-PROFILE-NAME',
        'BOB-PHONE',
        'BOB-BROWSER',
        'BOB-ACCOUNT-DATA',
        'BOB-DIRECTORY-NAME',
        'BOB-UPLOAD.png',
        'BOB-ROOM-NAME',
        'BOB-MESSAGE',
        'BOB-REPORT-REASON',
      ],
      secrets: ['SECRETHASH', 'syt_SECRET_TOKEN'],
    };
  },
};
