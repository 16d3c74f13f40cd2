import type { BuildContext } from '../building/types.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/connect.ts';
import { checkedDefinition } from '../definition/entities-for.ts';
import { openFileSources } from '../files/sources.ts';
import type { Logger } from '../log.ts';
import { EXPORTER_VERSION } from '../version.ts';

/**
 * What a fulfill run builds with, wired in one place for `fulfill`, `work`
 * and the tests: the definition checked against the live database (a
 * definition that no longer matches builds nothing: DriftError; what it
 * allows and should not is logged), its file sources opened (with their
 * EXPORT_SOURCE_* settings from `env`), the export settings and the
 * versions. `close()` lets the sources go.
 */
export async function openFulfillContext(
  db: Db,
  config: Config,
  log: Logger,
  schemaVersion: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BuildContext & { close(): void }> {
  const { definition, entities, user, warnings } = await checkedDefinition(db, config.definitionFile);
  for (const warning of warnings)
    log.warn({ warning }, 'the definition allows something it should not (exporter check says the same)');
  if (config.mail && user.emailColumn === undefined)
    log.warn(
      { userTable: user.ref },
      'SMTP_URL is set but the definition names no user_email column: no "ready" email is sent',
    );
  const files = openFileSources(definition.fileSources, config.storage, env);
  return {
    config: config.export,
    entities,
    user,
    files,
    exporterVersion: EXPORTER_VERSION,
    schemaVersion,
    close: () => files.destroy(),
  };
}
