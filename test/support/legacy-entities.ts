import type { ExportEntity } from '../../src/model/entities.ts';

/**
 * The entity list as it was written in TypeScript before definition files
 * (src/export/entities.ts, until the definition landed): kept only so that a
 * test can prove the shipped definition (definitions/sample.yaml) produces
 * the same archives, byte for byte.
 */
// `= any(array(…))` makes the project ids one value computed first, so every
// entity query is an index scan on project_id; `in (… union …)` let the planner
// pick a hash join over the whole table, which costs light users dearly.
const MY_PROJECTS = `any(array(select p.id from projects p where p.owner_id = (:user)::uuid
  union select m.project_id from project_members m where m.user_id = (:user)::uuid))`;

export const LEGACY_ENTITIES: readonly ExportEntity[] = [
  {
    name: 'users',
    description: 'Your account.',
    columns: [
      { name: 'id', kind: 'uuid', description: 'Your user id.' },
      { name: 'email', kind: 'text', description: 'Your email address.' },
      { name: 'name', kind: 'text', description: 'Your display name.' },
      { name: 'created_at', kind: 'timestamptz', description: 'When the account was created.' },
    ],
    from: 'users t where t.id = (:user)::uuid',
    orderBy: 't.id',
    files: [],
  },
  {
    name: 'projects',
    description: 'The projects you own or are a member of.',
    columns: [
      { name: 'id', kind: 'uuid', description: 'Project id.' },
      { name: 'name', kind: 'text', description: 'Project name.' },
      { name: 'description', kind: 'text', description: 'Project description.' },
      { name: 'owner_id', kind: 'uuid', description: 'The user id of the project owner.' },
      {
        name: 'relationship',
        kind: 'text',
        sql: `case when t.owner_id = (:user)::uuid then 'owner' else 'member' end`,
        description: '"owner" if you own the project, "member" if you were added to it.',
      },
      {
        name: 'member_role',
        kind: 'text',
        sql: 'm.role',
        description: 'Your role as a member (empty when you are the owner and not also a member).',
      },
      { name: 'member_since', kind: 'timestamptz', sql: 'm.added_at', description: 'When you were added as a member.' },
      { name: 'created_at', kind: 'timestamptz', description: 'When the project was created.' },
      { name: 'updated_at', kind: 'timestamptz', description: 'When the project was last changed.' },
    ],
    from: `projects t left join project_members m on m.project_id = t.id and m.user_id = (:user)::uuid
  where t.owner_id = (:user)::uuid or m.user_id is not null`,
    orderBy: 't.created_at, t.id',
    files: [],
  },
  {
    name: 'features',
    description: 'The features of those projects.',
    columns: [
      { name: 'id', kind: 'uuid', description: 'Feature id.' },
      { name: 'project_id', kind: 'uuid', description: 'The project it belongs to (see projects).' },
      { name: 'key', kind: 'text', description: 'Feature key.' },
      { name: 'title', kind: 'text', description: 'Feature title.' },
      { name: 'status', kind: 'text', description: 'Feature status.' },
      { name: 'metadata', kind: 'jsonb', description: 'Extra data, as JSON.' },
      { name: 'created_at', kind: 'timestamptz', description: 'When it was created.' },
      { name: 'updated_at', kind: 'timestamptz', description: 'When it was last changed.' },
    ],
    from: `features t where t.project_id = ${MY_PROJECTS}`,
    orderBy: 't.project_id, t.created_at, t.id',
    files: [],
  },
  {
    name: 'pipeline_runs',
    description: 'The CI pipeline runs of those projects.',
    columns: [
      { name: 'id', kind: 'uuid', description: 'Run id.' },
      { name: 'project_id', kind: 'uuid', description: 'The project it belongs to.' },
      { name: 'feature_id', kind: 'uuid', description: 'The feature it ran for, if any.' },
      { name: 'number', kind: 'integer', description: 'Run number within the project.' },
      { name: 'status', kind: 'text', description: 'Outcome of the run.' },
      { name: 'trigger', kind: 'text', description: 'What started the run.' },
      { name: 'branch', kind: 'text', description: 'Branch it ran on.' },
      { name: 'commit_sha', kind: 'text', description: 'Commit it ran on.' },
      { name: 'started_at', kind: 'timestamptz', description: 'When it started.' },
      { name: 'finished_at', kind: 'timestamptz', description: 'When it finished.' },
      { name: 'duration_ms', kind: 'bigint', description: 'How long it took, in milliseconds.' },
      { name: 'metadata', kind: 'jsonb', description: 'Extra data, as JSON.' },
    ],
    from: `pipeline_runs t where t.project_id = ${MY_PROJECTS}`,
    orderBy: 't.project_id, t.number, t.id',
    files: [],
  },
  {
    name: 'releases',
    description: 'The releases of those projects.',
    columns: [
      { name: 'id', kind: 'uuid', description: 'Release id.' },
      { name: 'project_id', kind: 'uuid', description: 'The project it belongs to.' },
      { name: 'version', kind: 'text', description: 'Version string.' },
      { name: 'name', kind: 'text', description: 'Release name.' },
      { name: 'notes', kind: 'text', description: 'Release notes.' },
      { name: 'released_at', kind: 'timestamptz', description: 'When it was released.' },
      { name: 'created_by', kind: 'uuid', description: 'The user id of whoever created it.' },
    ],
    from: `releases t where t.project_id = ${MY_PROJECTS}`,
    orderBy: 't.project_id, t.released_at, t.id',
    files: [],
  },
];
