-- schema version 7
-- The schema an empty archive is created with: what the migrations of schema.py leave
-- in sqlite_master. Made by schema.write_snapshot(); do not edit by hand.

CREATE TABLE "originals" (
   "sha256" TEXT PRIMARY KEY,
   "size" INTEGER NOT NULL,
   "media_type" TEXT NOT NULL,
   "stored_at" TEXT NOT NULL,
   "content" BLOB
);

CREATE TABLE "imports" (
   "id" INTEGER PRIMARY KEY,
   "connector" TEXT NOT NULL,
   "container" TEXT NOT NULL,
   "started_at" TEXT NOT NULL,
   "finished_at" TEXT,
   "status" TEXT NOT NULL,
   "added" INTEGER DEFAULT 0,
   "duplicates" INTEGER DEFAULT 0,
   "failed" INTEGER DEFAULT 0
, "runner_pid" INTEGER, "runner_host" TEXT, "runner_started" TEXT);

CREATE TABLE "import_errors" (
   "id" INTEGER PRIMARY KEY,
   "import_id" INTEGER NOT NULL REFERENCES "imports"("id"),
   "source" TEXT NOT NULL,
   "reason" TEXT NOT NULL,
   "original_sha256" TEXT
);

CREATE TABLE "items" (
   "id" INTEGER PRIMARY KEY,
   "kind" TEXT NOT NULL,
   "occurred_at" TEXT,
   "occurred_offset" INTEGER,
   "acquired_at" TEXT NOT NULL,
   "direction" TEXT DEFAULT 'unknown',
   "sender" TEXT,
   "sender_name" TEXT,
   "recipients" TEXT,
   "title" TEXT,
   "body" TEXT,
   "thread_key" TEXT,
   "message_id" TEXT,
   "flags" TEXT,
   "details" TEXT,
   "original_sha256" TEXT,
   "container_sha256" TEXT,
   "source_connector" TEXT NOT NULL,
   "source_container" TEXT,
   "source_locator" TEXT,
   "dedup_key" TEXT NOT NULL,
   "parse_status" TEXT NOT NULL DEFAULT 'ok',
   "parse_error" TEXT,
   "import_id" INTEGER REFERENCES "imports"("id")
);

CREATE UNIQUE INDEX "idx_items_dedup_key"
    ON "items" ("dedup_key");

CREATE INDEX "idx_items_occurred_at"
    ON "items" ("occurred_at");

CREATE INDEX "idx_items_kind_occurred_at"
    ON "items" ("kind", "occurred_at");

CREATE TABLE "item_people" (
   "item_id" INTEGER NOT NULL REFERENCES "items"("id"),
   "role" TEXT NOT NULL,
   "address" TEXT NOT NULL,
   "domain" TEXT
);

CREATE INDEX "idx_item_people_address"
    ON "item_people" ("address");

CREATE INDEX "idx_item_people_domain"
    ON "item_people" ("domain");

CREATE INDEX "idx_item_people_item_id"
    ON "item_people" ("item_id");

CREATE TABLE "item_sightings" (
   "item_id" INTEGER NOT NULL REFERENCES "items"("id"),
   "connector" TEXT NOT NULL,
   "container" TEXT,
   "locator" TEXT,
   "import_id" INTEGER,
   "seen_at" TEXT NOT NULL
);

CREATE UNIQUE INDEX "idx_item_sightings_item_id_connector_container_locator"
    ON "item_sightings" ("item_id", "connector", "container", "locator");

CREATE TABLE "attachments" (
   "id" INTEGER PRIMARY KEY,
   "item_id" INTEGER NOT NULL REFERENCES "items"("id"),
   "position" INTEGER NOT NULL,
   "original_sha256" TEXT NOT NULL,
   "filename" TEXT NOT NULL,
   "media_type" TEXT NOT NULL,
   "size" INTEGER,
   "inline" INTEGER,
   "content_id" TEXT,
   "text" TEXT
);

CREATE INDEX "idx_attachments_item_id"
    ON "attachments" ("item_id");

CREATE INDEX "idx_attachments_original_sha256"
    ON "attachments" ("original_sha256");

CREATE TABLE "cases" (
   "id" INTEGER PRIMARY KEY,
   "slug" TEXT NOT NULL,
   "title" TEXT NOT NULL,
   "description" TEXT,
   "created_at" TEXT NOT NULL
);

CREATE UNIQUE INDEX "idx_cases_slug"
    ON "cases" ("slug");

CREATE TABLE "case_rules" (
   "id" INTEGER PRIMARY KEY,
   "case_id" INTEGER NOT NULL REFERENCES "cases"("id"),
   "kind" TEXT NOT NULL,
   "value" TEXT NOT NULL
);

CREATE UNIQUE INDEX "idx_case_rules_case_id_kind_value"
    ON "case_rules" ("case_id", "kind", "value");

CREATE TABLE "case_items" (
   "case_id" INTEGER REFERENCES "cases"("id"),
   "item_id" INTEGER REFERENCES "items"("id"),
   "state" TEXT NOT NULL,
   "how" TEXT NOT NULL,
   "at" TEXT NOT NULL,
   PRIMARY KEY ("case_id", "item_id")
);

CREATE INDEX "idx_case_items_item_id"
    ON "case_items" ("item_id");

CREATE TABLE "tags" (
   "item_id" INTEGER REFERENCES "items"("id"),
   "tag" TEXT,
   "at" TEXT,
   PRIMARY KEY ("item_id", "tag")
);

CREATE INDEX "idx_tags_tag"
    ON "tags" ("tag");

CREATE TABLE "notes" (
   "id" INTEGER PRIMARY KEY,
   "item_id" INTEGER NOT NULL REFERENCES "items"("id"),
   "at" TEXT NOT NULL,
   "text" TEXT NOT NULL
);

CREATE TABLE "sources" (
   "id" INTEGER PRIMARY KEY,
   "connector" TEXT NOT NULL,
   "container" TEXT NOT NULL,
   "state" TEXT NOT NULL,
   "updated_at" TEXT NOT NULL
);

CREATE UNIQUE INDEX "idx_sources_connector_container"
    ON "sources" ("connector", "container");

CREATE TABLE "custody" (
   "seq" INTEGER PRIMARY KEY,
   "at" TEXT NOT NULL,
   "action" TEXT NOT NULL,
   "subject" TEXT NOT NULL,
   "details" TEXT NOT NULL,
   "prev_hash" TEXT NOT NULL,
   "hash" TEXT NOT NULL
);

CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;

CREATE TRIGGER custody_no_delete BEFORE DELETE ON custody BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;

CREATE VIRTUAL TABLE items_fts USING fts5(title, body, people, attachments, content='', tokenize='unicode61 remove_diacritics 2');

CREATE INDEX idx_items_search_filters ON items (id, kind, occurred_at, sender, sender_name);

CREATE INDEX idx_items_import_id ON items (import_id);

CREATE INDEX idx_items_original_sha256 ON items (original_sha256) WHERE original_sha256 IS NOT NULL;

CREATE INDEX idx_items_message_id ON items (message_id) WHERE message_id IS NOT NULL;

CREATE TABLE original_parts ( sha256 TEXT NOT NULL REFERENCES originals (sha256), part INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sha256, part));

CREATE TABLE facts ( id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases (id), kind TEXT NOT NULL, text TEXT NOT NULL, on_date TEXT, due TEXT, amount TEXT, currency TEXT, by TEXT, reference TEXT, suggestion TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);

CREATE INDEX idx_facts_case_id ON facts (case_id);

CREATE TABLE fact_items ( fact_id INTEGER NOT NULL REFERENCES facts (id), item_id INTEGER NOT NULL REFERENCES items (id), position INTEGER NOT NULL, PRIMARY KEY (fact_id, item_id));

CREATE INDEX idx_fact_items_item_id ON fact_items (item_id);

CREATE TABLE fact_suggestions ( id TEXT PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases (id), item_id INTEGER NOT NULL REFERENCES items (id), state TEXT NOT NULL, fact_id INTEGER REFERENCES facts (id), at TEXT NOT NULL);

CREATE INDEX idx_fact_suggestions_item ON fact_suggestions (case_id, item_id);

