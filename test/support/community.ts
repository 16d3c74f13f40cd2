/** The community app of test/fixtures/community.yaml: another user table, messages between two people, photos through albums. */
export const COMMUNITY_DEFINITION = new URL('../fixtures/community.yaml', import.meta.url).pathname;

export const COMMUNITY_SCHEMA = `
  create table accounts (id uuid primary key, handle text not null, email text not null, password_digest text);
  create table profiles (account_id uuid primary key references accounts, bio text, location text);
  create table contacts (id uuid primary key, owner_id uuid not null references accounts, contact_id uuid not null references accounts, nickname text);
  create table messages (id uuid primary key, sender_id uuid not null references accounts, recipient_id uuid not null references accounts, body text, sent_at timestamptz not null);
  create table albums (id uuid primary key, owner_id uuid not null references accounts, title text, created_at timestamptz);
  create table photos (id uuid primary key, album_id uuid not null references albums, caption text, taken_at timestamptz);`;
