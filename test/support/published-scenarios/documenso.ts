import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { insertRow } from '../seed-rows.ts';
import type { Scenario } from './scenario.ts';

/**
 * Documenso (documenso/documenso's Prisma migrations): quoted PascalCase
 * tables, camelCase columns, integer user ids. ADA owns an organisation with
 * a team, a folder, an envelope (a document) with an item, its data, its
 * settings and a field, a passkey, a webhook and an OAuth account; she sends
 * the envelope to BOB, who signs it (his Recipient row and his Signature are
 * his), shares it and is a member of her organisation. BOB has his own
 * organisation, folder, envelope, passkey and webhook. Credentials of every
 * kind Documenso keeps: a bcrypt password hash, a TOTP secret and backup
 * codes, an API token, a session, an email verification token, a password
 * reset token, OAuth tokens, a webhook's signing secret, a recipient's
 * signing token, an envelope's QR token, an invitation's token.
 */
export const scenario: Scenario = {
  app: 'documenso',
  decided: true,
  userTable: 'User',
  async seed(db: pg.Pool) {
    const id = () => randomUUID();
    const user = async (who: 'ADA' | 'BOB') => {
      const avatar = await insertRow(db, '"AvatarImage"', { id: id(), bytes: `${who}-AVATAR-BYTES` });
      return insertRow(db, '"User"', {
        name: `${who}-NAME`,
        email: `${who.toLowerCase()}@example.test`,
        // Documenso's bcrypt hash (12 rounds), its TOTP secret (encrypted) and backup codes (encrypted).
        password: `$2a$12$${who}SECRETHASHxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`.slice(0, 60),
        twoFactorSecret: `SECRET-2FA-${who}`,
        twoFactorBackupCodes: `SECRET-BACKUP-${who}`,
        twoFactorEnabled: true,
        signature: `${who}-SAVED-SIGNATURE`,
        avatarImageId: avatar.id,
      });
    };
    const ada = await user('ADA');
    const bob = await user('BOB');

    /** An organisation, with what Documenso creates with one (its claim, settings, portal), and one team in it. */
    const organisation = async (who: 'ADA' | 'BOB', owner: Record<string, unknown>) => {
      const claim = await insertRow(db, '"OrganisationClaim"', { id: id() });
      const settings = await insertRow(db, '"OrganisationGlobalSettings"', { id: id() });
      const portal = await insertRow(db, '"OrganisationAuthenticationPortal"', {
        id: id(),
        clientSecret: `SECRET-PORTAL-${who}`,
      });
      const org = await insertRow(db, '"Organisation"', {
        id: id(),
        type: 'ORGANISATION',
        name: `${who}-ORG`,
        url: `${who.toLowerCase()}-org-url`,
        customerId: `cus_${who}ORG`,
        ownerUserId: owner.id,
        organisationClaimId: claim.id,
        organisationGlobalSettingsId: settings.id,
        organisationAuthenticationPortalId: portal.id,
      });
      const teamSettings = await insertRow(db, '"TeamGlobalSettings"', { id: id() });
      const team = await insertRow(db, '"Team"', {
        name: `${who}-TEAM`,
        url: `${who.toLowerCase()}-team-url`,
        organisationId: org.id,
        teamGlobalSettingsId: teamSettings.id,
      });
      return { org, team };
    };
    const adaOrg = await organisation('ADA', ada);
    const bobOrg = await organisation('BOB', bob);

    // Memberships: ADA of her own organisation, BOB of ADA's and of his; each in the organisation's members group.
    const adaMember = await insertRow(db, '"OrganisationMember"', {
      id: 'ADA-MEMBERSHIP-ID',
      userId: ada.id,
      organisationId: adaOrg.org.id,
    });
    const bobMember = await insertRow(db, '"OrganisationMember"', {
      id: 'BOB-MEMBERSHIP-ID',
      userId: bob.id,
      organisationId: adaOrg.org.id,
    });
    await insertRow(db, '"OrganisationMember"', { id: id(), userId: bob.id, organisationId: bobOrg.org.id });
    const group = await insertRow(db, '"OrganisationGroup"', {
      id: id(),
      name: 'ADA-GROUP-NAME',
      type: 'INTERNAL_ORGANISATION',
      organisationRole: 'MEMBER',
      organisationId: adaOrg.org.id,
    });
    await insertRow(db, '"OrganisationGroupMember"', {
      id: 'ADA-GROUP-MEMBERSHIP',
      groupId: group.id,
      organisationMemberId: adaMember.id,
    });
    await insertRow(db, '"OrganisationGroupMember"', {
      id: 'BOB-GROUP-MEMBERSHIP',
      groupId: group.id,
      organisationMemberId: bobMember.id,
    });
    await insertRow(db, '"TeamGroup"', {
      id: id(),
      organisationGroupId: group.id,
      teamRole: 'MEMBER',
      teamId: adaOrg.team.id,
    });
    // An invitation to a third person (her email and the link's token are never ADA's).
    await insertRow(db, '"OrganisationMemberInvite"', {
      id: id(),
      email: 'carol@example.test',
      token: 'SECRET-INVITE-TOKEN',
      organisationId: adaOrg.org.id,
      organisationRole: 'MEMBER',
    });
    await insertRow(db, '"Subscription"', {
      planId: 'ADA-PLAN-ID',
      priceId: 'price_ADA',
      customerId: 'cus_ADAORG',
      organisationId: adaOrg.org.id,
    });

    // Folders: ADA's in her team; BOB's in ADA's team (he is a member of her organisation).
    const adaFolder = await insertRow(db, '"Folder"', {
      id: id(),
      name: 'ADA-FOLDER',
      userId: ada.id,
      teamId: adaOrg.team.id,
      type: 'DOCUMENT',
    });
    await insertRow(db, '"Folder"', {
      id: id(),
      name: 'BOB-FOLDER',
      userId: bob.id,
      teamId: adaOrg.team.id,
      type: 'DOCUMENT',
    });

    /** An envelope (a document) with its email settings, one item and the item's PDF. */
    const envelope = async (who: 'ADA' | 'BOB', owner: Record<string, unknown>, teamId: unknown, folderId: unknown) => {
      const meta = await insertRow(db, '"DocumentMeta"', {
        id: id(),
        subject: `${who}-EMAIL-SUBJECT`,
        message: `${who}-EMAIL-MESSAGE`,
      });
      const env = await insertRow(db, '"Envelope"', {
        id: id(),
        secondaryId: `document_${id()}`,
        type: 'DOCUMENT',
        title: `${who}-ENVELOPE-TITLE`,
        status: 'COMPLETED',
        source: 'DOCUMENT',
        qrToken: `SECRET-QR-${who}`,
        internalVersion: 2,
        userId: owner.id,
        teamId,
        folderId,
        documentMetaId: meta.id,
        signatureLevel: 'SES',
      });
      // Its PDF: as uploaded (initialData), and as it is now, signed by the recipients (data).
      const data = await insertRow(db, '"DocumentData"', {
        id: id(),
        type: 'BYTES_64',
        initialData: `${who}-UPLOADED-PDF`,
        data: `${who}-PDF-SIGNED-BY-RECIPIENTS`,
      });
      const item = await insertRow(db, '"EnvelopeItem"', {
        id: id(),
        title: `${who}-ITEM-TITLE`,
        documentDataId: data.id,
        envelopeId: env.id,
        order: 1,
      });
      return { env, item };
    };
    const adaDoc = await envelope('ADA', ada, adaOrg.team.id, adaFolder.id);
    // BOB's envelope in ADA's team: reachable from her team, never hers.
    await envelope('BOB', bob, adaOrg.team.id, null);

    // ADA sends her envelope to BOB: his Recipient row, a field ADA placed for him, and his signature in it.
    const recipient = await insertRow(db, '"Recipient"', {
      email: 'bob@example.test',
      name: 'BOB-AS-RECIPIENT',
      token: 'SECRET-RECIPIENT-TOKEN',
      envelopeId: adaDoc.env.id,
      signingStatus: 'SIGNED',
      readStatus: 'OPENED',
      sendStatus: 'SENT',
      signedAt: new Date().toISOString(),
    });
    const field = await insertRow(db, '"Field"', {
      recipientId: recipient.id,
      type: 'SIGNATURE',
      page: 1,
      customText: '',
      inserted: true,
      secondaryId: `field_${id()}`,
      fieldMeta: JSON.stringify({ type: 'signature', label: 'ADA-FIELD-LABEL' }),
      envelopeId: adaDoc.env.id,
      envelopeItemId: adaDoc.item.id,
    });
    await insertRow(db, '"Signature"', {
      recipientId: recipient.id,
      fieldId: field.id,
      typedSignature: 'BOB-SIGNATURE-TEXT',
    });
    await insertRow(db, '"DocumentShareLink"', {
      email: 'bob@example.test',
      slug: 'BOB-SHARE-SLUG',
      envelopeId: adaDoc.env.id,
    });
    // The envelope's audit trail: what ADA did (sending it to BOB, naming him in the event's data), and what BOB did (signing).
    await insertRow(db, '"DocumentAuditLog"', {
      id: id(),
      type: 'DOCUMENT_RECIPIENT_ADDED',
      data: JSON.stringify({
        recipientEmail: 'bob@example.test',
        recipientName: 'BOB-AS-RECIPIENT',
        recipientRole: 'SIGNER',
      }),
      name: 'ADA-NAME',
      email: 'ada@example.test',
      userId: ada.id,
      userAgent: 'ADA-AUDIT-AGENT',
      ipAddress: '192.0.2.1',
      envelopeId: adaDoc.env.id,
    });
    await insertRow(db, '"DocumentAuditLog"', {
      id: id(),
      type: 'DOCUMENT_FIELD_INSERTED',
      data: JSON.stringify({ field: { type: 'SIGNATURE', data: 'BOB-SIGNATURE-TEXT' } }),
      name: 'BOB-AS-RECIPIENT',
      email: 'bob@example.test',
      userId: bob.id,
      userAgent: 'BOB-AUDIT-AGENT',
      ipAddress: '198.51.100.7',
      envelopeId: adaDoc.env.id,
    });

    // Per person: a passkey, a webhook (BOB's in ADA's team), an OAuth account, the security log, and credentials.
    for (const [who, person] of [
      ['ADA', ada],
      ['BOB', bob],
    ] as const) {
      await insertRow(db, '"Passkey"', {
        id: id(),
        userId: person.id,
        name: `${who}-PASSKEY`,
        credentialId: Buffer.from(`SECRET-PASSKEY-ID-${who}`),
        credentialPublicKey: Buffer.from(`${who}-PUBLIC-KEY`),
        counter: 1,
        credentialDeviceType: 'multiDevice',
        credentialBackedUp: true,
      });
      await insertRow(db, '"Webhook"', {
        id: id(),
        webhookUrl: `https://example.test/${who.toLowerCase()}-hook`,
        eventTriggers: '{DOCUMENT_SIGNED}',
        secret: `SECRET-WEBHOOK-${who}`,
        userId: person.id,
        teamId: adaOrg.team.id,
      });
      await insertRow(db, '"Account"', {
        id: id(),
        userId: person.id,
        type: 'oauth',
        provider: 'google',
        providerAccountId: `${who}-GOOGLE-ACCOUNT`,
        access_token: `SECRET-OAUTH-ACCESS-${who}`,
        refresh_token: `SECRET-OAUTH-REFRESH-${who}`,
        id_token: `SECRET-OAUTH-ID-${who}`,
        token_type: 'Bearer',
      });
      await insertRow(db, '"UserSecurityAuditLog"', {
        userId: person.id,
        type: 'SIGN_IN',
        userAgent: `${who}-SECURITY-AGENT`,
        ipAddress: '203.0.113.9',
      });
      await insertRow(db, '"ApiToken"', {
        name: `${who} token`,
        token: `SECRET-API-TOKEN-${who}`,
        userId: person.id,
        teamId: adaOrg.team.id,
      });
      await insertRow(db, '"Session"', {
        id: id(),
        sessionToken: `SECRET-SESSION-${who}`,
        userId: person.id,
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      });
      await insertRow(db, '"VerificationToken"', {
        identifier: `${who.toLowerCase()}@example.test`,
        token: `SECRET-VERIFY-${who}`,
        userId: person.id,
        secondaryId: id(),
      });
      await insertRow(db, '"PasswordResetToken"', {
        token: `SECRET-RESET-${who}`,
        userId: person.id,
        expiry: new Date(Date.now() + 3_600_000).toISOString(),
      });
    }

    return {
      person: String(ada.id),
      mine: [
        'ada@example.test',
        'ADA-NAME',
        'ADA-SAVED-SIGNATURE',
        'ADA-AVATAR-BYTES',
        'ADA-ORG',
        'cus_ADAORG',
        'ADA-PLAN-ID',
        'ADA-TEAM',
        'ADA-MEMBERSHIP-ID',
        'ADA-GROUP-MEMBERSHIP',
        'ADA-GROUP-NAME',
        'ADA-FOLDER',
        'ADA-ENVELOPE-TITLE',
        'ADA-EMAIL-SUBJECT',
        'ADA-EMAIL-MESSAGE',
        'ADA-ITEM-TITLE',
        'ADA-UPLOADED-PDF',
        // Her PDF as its recipients signed it is in no list: Documenso gives her that copy, and it holds BOB's
        // signature (the unedited draft exports it, as a detail of her document; decided.yaml only what she uploaded).
        'ADA-FIELD-LABEL',
        'ADA-AUDIT-AGENT',
        'ADA-PASSKEY',
        'https://example.test/ada-hook',
        'ADA-GOOGLE-ACCOUNT',
        'ADA-SECURITY-AGENT',
      ],
      others: [
        'bob@example.test',
        'BOB-NAME',
        'BOB-SAVED-SIGNATURE',
        'BOB-AVATAR-BYTES',
        'BOB-ORG',
        'BOB-TEAM',
        'BOB-MEMBERSHIP-ID',
        'BOB-GROUP-MEMBERSHIP',
        'BOB-FOLDER',
        'BOB-ENVELOPE-TITLE',
        'BOB-EMAIL-SUBJECT',
        'BOB-ITEM-TITLE',
        'BOB-UPLOADED-PDF',
        'BOB-AS-RECIPIENT',
        'BOB-SIGNATURE-TEXT',
        'BOB-SHARE-SLUG',
        'BOB-AUDIT-AGENT',
        'BOB-PASSKEY',
        'https://example.test/bob-hook',
        'BOB-GOOGLE-ACCOUNT',
        'BOB-SECURITY-AGENT',
        'carol@example.test',
      ],
      secrets: [
        'SECRETHASH',
        'SECRET-2FA',
        'SECRET-BACKUP',
        'SECRET-API-TOKEN',
        'SECRET-SESSION',
        'SECRET-VERIFY',
        'SECRET-RESET',
        'SECRET-OAUTH',
        'SECRET-WEBHOOK',
        'SECRET-RECIPIENT-TOKEN',
        'SECRET-QR',
        'SECRET-INVITE-TOKEN',
        'SECRET-PORTAL',
      ],
    };
  },
};
