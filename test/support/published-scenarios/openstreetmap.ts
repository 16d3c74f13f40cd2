import type pg from 'pg';
import { insertRow } from '../seed-rows.ts';
import type { Scenario } from './scenario.ts';

/**
 * OpenStreetMap's website (db/structure.sql): three mappers. ADA's account,
 * her changesets with their tags and comments, the nodes, ways and relations
 * she edited in them (every version, and the current one) with their tags,
 * her diary, notes, GPS traces, preferences, links, reports, the block a
 * moderator set on her and the OAuth application she registered; messages she
 * sent or received. BOB and CY have the same kinds of rows, and the traps: a
 * way of BOB's that holds ADA's node (its tags are BOB's: the wrong parent),
 * a later version of ADA's node made by BOB (the composite key (node_id,
 * version) tells it apart), BOB's comments on ADA's changeset, diary entry
 * and note, BOB's report about her and a moderator's note on it, a block BOB
 * set as a moderator on CY, a message between BOB and CY. Credentials:
 * password hashes and salts, OAuth tokens, grants and client secrets.
 */
export const scenario: Scenario = {
  app: 'openstreetmap',
  decided: true,
  userTable: 'users',
  async seed(db: pg.Pool) {
    // diary_entries.language_code references languages (the application seeds it from config/languages.yml).
    await insertRow(db, 'languages', { code: 'en', english_name: 'English', native_name: 'English' });

    const user = async (who: string) =>
      Number(
        (
          await insertRow(db, 'users', {
            email: `${who.toLowerCase()}@example.test`,
            display_name: `${who}-DISPLAY-NAME`,
            description: `${who}-PROFILE-DESCRIPTION`,
            // What the application keeps for a password (PBKDF2 hash and its salt).
            pass_crypt: `SECRET-CRYPT-${who}`,
            pass_salt: `SECRET-SALT-${who}`,
            creation_time: new Date().toISOString(),
            status: 'active',
            home_location_name: `${who}-HOME-LOCATION`,
          })
        ).id,
      );
    const ada = await user('ADA');
    const bob = await user('BOB');
    const cy = await user('CY');

    // Changesets, their tags and their discussion.
    const changeset = async (owner: number, comment: string) => {
      const c = await insertRow(db, 'changesets', {
        user_id: owner,
        created_at: new Date().toISOString(),
        closed_at: new Date().toISOString(),
      });
      await insertRow(db, 'changeset_tags', { changeset_id: c.id, k: 'comment', v: comment });
      return Number(c.id);
    };
    const adaChangeset = await changeset(ada, 'ADA-CHANGESET-COMMENT');
    const bobChangeset = await changeset(bob, 'BOB-CHANGESET-COMMENT');
    await insertRow(db, 'changeset_comments', {
      changeset_id: bobChangeset,
      author_id: ada,
      body: 'ADA-DISCUSSES-BOB-CHANGESET',
      visible: true,
    });
    await insertRow(db, 'changeset_comments', {
      changeset_id: adaChangeset,
      author_id: bob,
      body: 'BOB-DISCUSSES-ADA-CHANGESET',
      visible: true,
    });
    await insertRow(db, 'changesets_subscribers', { subscriber_id: ada, changeset_id: bobChangeset });

    // Nodes: the history (nodes, node_tags keyed by (node_id, version)) and the current state (current_nodes, current_node_tags).
    const node = async (id: number, version: number, inChangeset: number, tag: string) => {
      await insertRow(db, 'nodes', {
        node_id: id,
        version,
        changeset_id: inChangeset,
        latitude: 515000000,
        longitude: -1000000,
        visible: true,
        timestamp: new Date().toISOString(),
        tile: 1,
      });
      await insertRow(db, 'node_tags', { node_id: id, version, k: 'name', v: tag });
    };
    const currentNode = async (id: number, version: number, inChangeset: number, tag: string) => {
      await insertRow(db, 'current_nodes', {
        id,
        version,
        changeset_id: inChangeset,
        latitude: 515000000,
        longitude: -1000000,
        visible: true,
        timestamp: new Date().toISOString(),
        tile: 1,
      });
      await insertRow(db, 'current_node_tags', { node_id: id, k: 'name', v: tag });
    };
    await node(1001, 1, adaChangeset, 'ADA-NODE-TAG');
    await currentNode(1001, 1, adaChangeset, 'ADA-CURRENT-NODE-TAG');
    await node(1002, 1, bobChangeset, 'BOB-NODE-TAG');
    await currentNode(1002, 1, bobChangeset, 'BOB-CURRENT-NODE-TAG');
    // ADA made node 1003; BOB edited it since: its version 2, and its current state, are his edit.
    await node(1003, 1, adaChangeset, 'ADA-FIRST-VERSION-TAG');
    await node(1003, 2, bobChangeset, 'BOB-SECOND-VERSION-TAG');
    await currentNode(1003, 2, bobChangeset, 'BOB-CURRENT-SECOND-VERSION-TAG');

    // Ways: ADA's holds her node; BOB's holds ADA's node and his (its tags are his, though a node in it is hers).
    const way = async (id: number, inChangeset: number, nodes: number[], tag: string) => {
      await insertRow(db, 'ways', {
        way_id: id,
        version: 1,
        changeset_id: inChangeset,
        timestamp: new Date().toISOString(),
        visible: true,
      });
      await insertRow(db, 'current_ways', {
        id,
        version: 1,
        changeset_id: inChangeset,
        timestamp: new Date().toISOString(),
        visible: true,
      });
      for (const [i, n] of nodes.entries()) {
        await insertRow(db, 'way_nodes', { way_id: id, version: 1, node_id: n, sequence_id: i + 1 });
        await insertRow(db, 'current_way_nodes', { way_id: id, node_id: n, sequence_id: i + 1 });
      }
      await insertRow(db, 'way_tags', { way_id: id, version: 1, k: 'name', v: tag });
      await insertRow(db, 'current_way_tags', { way_id: id, k: 'name', v: tag.replace(/-TAG$/, '-CURRENT-TAG') });
    };
    await way(2001, adaChangeset, [1001, 1003], 'ADA-WAY-TAG');
    await way(2002, bobChangeset, [1001, 1002], 'BOB-WAY-TAG');

    // Relations: ADA's holds her way and BOB's.
    const relation = async (id: number, inChangeset: number, members: number[], tag: string, role: string) => {
      await insertRow(db, 'relations', {
        relation_id: id,
        version: 1,
        changeset_id: inChangeset,
        timestamp: new Date().toISOString(),
        visible: true,
      });
      await insertRow(db, 'current_relations', {
        id,
        version: 1,
        changeset_id: inChangeset,
        timestamp: new Date().toISOString(),
        visible: true,
      });
      for (const [i, m] of members.entries()) {
        await insertRow(db, 'relation_members', {
          relation_id: id,
          version: 1,
          member_type: 'Way',
          member_id: m,
          member_role: role,
          sequence_id: i + 1,
        });
        await insertRow(db, 'current_relation_members', {
          relation_id: id,
          member_type: 'Way',
          member_id: m,
          member_role: role.replace(/-MEMBER-ROLE$/, '-CURRENT-MEMBER-ROLE'),
          sequence_id: i + 1,
        });
      }
      await insertRow(db, 'relation_tags', { relation_id: id, version: 1, k: 'name', v: tag });
      await insertRow(db, 'current_relation_tags', {
        relation_id: id,
        k: 'name',
        v: tag.replace(/-TAG$/, '-CURRENT-TAG'),
      });
    };
    await relation(3001, adaChangeset, [2001, 2002], 'ADA-RELATION-TAG', 'ADA-MEMBER-ROLE');
    await relation(3002, bobChangeset, [2002], 'BOB-RELATION-TAG', 'BOB-MEMBER-ROLE');

    // Diaries, and comments on each other's.
    const diary = async (owner: number, body: string) =>
      Number(
        (
          await insertRow(db, 'diary_entries', {
            user_id: owner,
            title: `${body}-TITLE`,
            body,
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
          })
        ).id,
      );
    const adaDiary = await diary(ada, 'ADA-DIARY');
    const bobDiary = await diary(bob, 'BOB-DIARY');
    await insertRow(db, 'diary_comments', {
      diary_entry_id: bobDiary,
      user_id: ada,
      body: 'ADA-COMMENTS-HIS-DIARY',
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    await insertRow(db, 'diary_comments', {
      diary_entry_id: adaDiary,
      user_id: bob,
      body: 'BOB-COMMENTS-HER-DIARY',
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    await insertRow(db, 'diary_entry_subscriptions', { user_id: ada, diary_entry_id: bobDiary });

    // Preferences, social links, follows, mutes.
    await insertRow(db, 'user_preferences', { user_id: ada, k: 'editor', v: 'ADA-PREF' });
    await insertRow(db, 'user_preferences', { user_id: bob, k: 'editor', v: 'BOB-PREF' });
    await insertRow(db, 'social_links', {
      user_id: ada,
      url: 'https://example.test/ADA-SOCIAL-LINK',
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    await insertRow(db, 'social_links', {
      user_id: bob,
      url: 'https://example.test/BOB-SOCIAL-LINK',
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    await insertRow(db, 'friends', { user_id: ada, friend_user_id: bob });
    await insertRow(db, 'friends', { user_id: cy, friend_user_id: ada });
    await insertRow(db, 'user_mutes', {
      owner_id: ada,
      subject_id: cy,
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });

    // GPS traces (the file itself is in ActiveStorage), their tags and points.
    const trace = async (owner: number, who: string) => {
      const g = await insertRow(db, 'gpx_files', {
        user_id: owner,
        name: `${who}-track.gpx`,
        description: `${who}-GPX-DESCRIPTION`,
        timestamp: new Date().toISOString(),
        inserted: true,
      });
      await insertRow(db, 'gpx_file_tags', { gpx_id: g.id, tag: `${who}-GPX-TAG` });
      await insertRow(db, 'gps_points', {
        gpx_id: g.id,
        trackid: 1,
        latitude: 515000000,
        longitude: -1000000,
        timestamp: new Date().toISOString(),
        tile: 1,
      });
    };
    await trace(ada, 'ADA');
    await trace(bob, 'BOB');

    // Notes: ADA's, which BOB commented on; ADA's comment on BOB's.
    const note = async (owner: number, who: string) => {
      const n = await insertRow(db, 'notes', {
        user_id: owner,
        latitude: 515000000,
        longitude: -1000000,
        tile: 1,
        status: 'open',
        description: `${who}-NOTE-DESCRIPTION`,
        user_ip: '192.0.2.1',
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
      });
      await insertRow(db, 'note_comments', {
        note_id: n.id,
        author_id: owner,
        visible: true,
        body: `${who}-NOTE-OPENING`,
        event: 'opened',
        created_at: new Date().toISOString(),
      });
      return Number(n.id);
    };
    const adaNote = await note(ada, 'ADA');
    const bobNote = await note(bob, 'BOB');
    await insertRow(db, 'note_comments', {
      note_id: bobNote,
      author_id: ada,
      visible: true,
      body: 'ADA-COMMENTS-BOB-NOTE',
      event: 'commented',
      created_at: new Date().toISOString(),
    });
    await insertRow(db, 'note_comments', {
      note_id: adaNote,
      author_id: bob,
      visible: true,
      body: 'BOB-COMMENTS-ADA-NOTE',
      event: 'commented',
      created_at: new Date().toISOString(),
    });
    await insertRow(db, 'note_subscriptions', { user_id: ada, note_id: bobNote });

    // Messages: two that are hers (sent, received), one between the others.
    const message = async (from: number, to: number, body: string) =>
      insertRow(db, 'messages', {
        from_user_id: from,
        to_user_id: to,
        title: `${body}-SUBJECT`,
        body,
        sent_on: new Date().toISOString(),
      });
    await message(ada, bob, 'ADA-TO-BOB');
    await message(bob, ada, 'BOB-TO-ADA');
    await message(bob, cy, 'BOB-TO-CY');

    // Moderation: BOB is a moderator (CY granted it). He blocked ADA, and CY; he reported ADA's diary entry, she reported his; CY noted on the issue about ADA.
    await insertRow(db, 'user_roles', { user_id: bob, role: 'moderator', granter_id: cy });
    await insertRow(db, 'user_blocks', {
      user_id: ada,
      creator_id: bob,
      reason: 'ADA-BLOCK-REASON',
      ends_at: new Date().toISOString(),
    });
    await insertRow(db, 'user_blocks', {
      user_id: cy,
      creator_id: bob,
      reason: 'CY-BLOCK-REASON',
      ends_at: new Date().toISOString(),
    });
    const issue = async (reportable: number, about: number) =>
      Number(
        (
          await insertRow(db, 'issues', {
            reportable_type: 'DiaryEntry',
            reportable_id: reportable,
            reported_user_id: about,
            assigned_role: 'moderator',
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
          })
        ).id,
      );
    const aboutAda = await issue(adaDiary, ada);
    const aboutBob = await issue(bobDiary, bob);
    await insertRow(db, 'reports', {
      issue_id: aboutAda,
      user_id: bob,
      details: 'BOB-REPORTS-ADA',
      category: 'spam',
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    await insertRow(db, 'reports', {
      issue_id: aboutBob,
      user_id: ada,
      details: 'ADA-REPORTS-BOB',
      category: 'spam',
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    await insertRow(db, 'issue_comments', {
      issue_id: aboutAda,
      user_id: cy,
      body: 'CY-MODERATOR-NOTE',
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    await insertRow(db, 'redactions', { user_id: bob, title: 'BOB-REDACTION-TITLE', description: 'BOB-REDACTION' });
    await insertRow(db, 'moderation_zones', {
      creator_id: cy,
      name: 'CY-ZONE',
      reason: 'CY-ZONE-REASON',
      zone: '0103000020E6100000',
      ends_at: new Date().toISOString(),
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });

    // OAuth: ADA registered an application; she authorised CY's, which holds her grant and her tokens.
    const application = async (owner: number, who: string) =>
      Number(
        (
          await insertRow(db, 'oauth_applications', {
            owner_type: 'User',
            owner_id: owner,
            name: `${who}-APP-NAME`,
            secret: `SECRET-APP-${who}`,
            redirect_uri: `https://example.test/${who}-APP-CALLBACK`,
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
          })
        ).id,
      );
    await application(ada, 'ADA');
    const cyApp = await application(cy, 'CY');
    const grant = await insertRow(db, 'oauth_access_grants', {
      resource_owner_id: ada,
      application_id: cyApp,
      token: 'SECRET-GRANT-ADA',
      expires_in: 600,
      redirect_uri: 'https://example.test/callback',
      created_at: new Date().toISOString(),
    });
    await insertRow(db, 'oauth_openid_requests', { access_grant_id: grant.id, nonce: 'SECRET-NONCE-ADA' });
    await insertRow(db, 'oauth_access_tokens', {
      resource_owner_id: ada,
      application_id: cyApp,
      token: 'SECRET-TOKEN-ADA',
      refresh_token: 'SECRET-REFRESH-ADA',
      created_at: new Date().toISOString(),
    });

    return {
      person: String(ada),
      mine: [
        'ada@example.test',
        'ADA-DISPLAY-NAME',
        'ADA-PROFILE-DESCRIPTION',
        'ADA-HOME-LOCATION',
        'ADA-CHANGESET-COMMENT',
        'ADA-DISCUSSES-BOB-CHANGESET',
        'ADA-NODE-TAG',
        'ADA-CURRENT-NODE-TAG',
        'ADA-FIRST-VERSION-TAG',
        'ADA-WAY-TAG',
        'ADA-WAY-CURRENT-TAG',
        'ADA-RELATION-TAG',
        'ADA-RELATION-CURRENT-TAG',
        'ADA-MEMBER-ROLE',
        'ADA-CURRENT-MEMBER-ROLE',
        'ADA-DIARY',
        'ADA-DIARY-TITLE',
        'ADA-COMMENTS-HIS-DIARY',
        'ADA-PREF',
        'ADA-SOCIAL-LINK',
        'ADA-GPX-DESCRIPTION',
        'ADA-GPX-TAG',
        'ADA-NOTE-DESCRIPTION',
        'ADA-NOTE-OPENING',
        'ADA-COMMENTS-BOB-NOTE',
        'ADA-TO-BOB',
        'BOB-TO-ADA',
        'ADA-BLOCK-REASON',
        'ADA-REPORTS-BOB',
        'ADA-APP-NAME',
        'ADA-APP-CALLBACK',
      ],
      others: [
        'bob@example.test',
        'cy@example.test',
        'BOB-DISPLAY-NAME',
        'CY-DISPLAY-NAME',
        'BOB-PROFILE-DESCRIPTION',
        'BOB-HOME-LOCATION',
        'BOB-CHANGESET-COMMENT',
        'BOB-DISCUSSES-ADA-CHANGESET',
        'BOB-NODE-TAG',
        'BOB-CURRENT-NODE-TAG',
        'BOB-SECOND-VERSION-TAG',
        'BOB-CURRENT-SECOND-VERSION-TAG',
        'BOB-WAY-TAG',
        'BOB-WAY-CURRENT-TAG',
        'BOB-RELATION-TAG',
        'BOB-RELATION-CURRENT-TAG',
        'BOB-MEMBER-ROLE',
        'BOB-CURRENT-MEMBER-ROLE',
        'BOB-DIARY',
        'BOB-COMMENTS-HER-DIARY',
        'BOB-PREF',
        'BOB-SOCIAL-LINK',
        'BOB-GPX-DESCRIPTION',
        'BOB-GPX-TAG',
        'BOB-NOTE-DESCRIPTION',
        'BOB-NOTE-OPENING',
        'BOB-COMMENTS-ADA-NOTE',
        'BOB-TO-CY',
        'CY-BLOCK-REASON',
        'BOB-REPORTS-ADA',
        'CY-MODERATOR-NOTE',
        'BOB-REDACTION',
        'CY-ZONE',
        'CY-APP-NAME',
        'CY-APP-CALLBACK',
      ],
      secrets: [
        'SECRET-CRYPT-',
        'SECRET-SALT-',
        'SECRET-APP-',
        'SECRET-GRANT-',
        'SECRET-NONCE-',
        'SECRET-TOKEN-',
        'SECRET-REFRESH-',
      ],
    };
  },
};
