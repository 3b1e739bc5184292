/*
 * outbox.c - the ward agent's durable outbox on SQLite.
 *
 * Schema (PRAGMA user_version = 4):
 *   meta(id = 1, agent_instance, ward, next_seq, last_contact_ms, hub_mark)
 *   events(seq PRIMARY KEY, event_id UNIQUE, kind, payload, state, reason,
 *          queued_at_ms, import_id, line, withdraws)
 *   imports(id, name, kind, size, mtime_ns, inode, fingerprint, rows,
 *           events, first_seq, last_seq, imported_at_ms, withdrawn_at_ms,
 *           withdraw_reason)
 *   natural_keys(kind, key, row_hash, seq)
 *   reference(id = 1, version, payload, received_at_ms, checked_at_ms)
 * payload is the packed wardsync.v1.Event including its seq and event_id,
 * exactly the bytes sent to the hub; import_id and line say where an event
 * came from and never leave the ward; withdraws is the import a
 * Withdrawal event takes back ("ward-agent withdraw"). reference holds the
 * last reference data the hub sent (the packed wardsync.v1.Reference),
 * when it came and when the hub last said it was still current. Writers
 * take BEGIN
 * IMMEDIATE so a concurrent "ward-agent import" and "ward-agent run" wait for
 * each other (busy_timeout) instead of failing on a lock upgrade.
 *
 * A new outbox is made at version 1 and brought forward by the same
 * migration steps an old one takes, each step in one transaction that
 * keeps every event (migrations[] below: append, never edit).
 */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "wardsync/log.h"
#include "wardsync/validate.h"

#define OUTBOX_SCHEMA_VERSION 4
#define OUTBOX_BUSY_TIMEOUT_MS 10000

struct outbox {
    sqlite3 *db;
    char *path;
    char agent_instance[WS_UUID_LEN + 1];
    char ward[WS_FIELD_MAX + 1];
};

/* Version 1, as the first agents made it. */
static const char *const schema_sql =
    "CREATE TABLE meta ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  agent_instance TEXT NOT NULL,"
    "  ward TEXT NOT NULL,"
    "  next_seq INTEGER NOT NULL CHECK (next_seq >= 1),"
    "  last_contact_ms INTEGER,"
    "  hub_mark INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
    "  event_id TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued'"
    "    CHECK (state IN ('queued', 'delivered', 'rejected')),"
    "  reason TEXT,"
    "  queued_at_ms INTEGER NOT NULL);"
    "CREATE INDEX events_state ON events (state, seq);"
    "CREATE TABLE imports ("
    "  name TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL,"
    "  inode INTEGER NOT NULL,"
    "  first_seq INTEGER,"
    "  last_seq INTEGER,"
    "  imported_at_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (name, size, mtime_ns, inode));";

/* 1 -> 2: every import gets an id, its kind, the fingerprint of its
 * content and its row count (issue 11); every event the import and line
 * it came from; natural keys make a repeated row a no-op. Imports made
 * before have no fingerprint; their events find their import by seq. */
static const char *const migrate_1_to_2_sql =
    "CREATE TABLE imports_2 ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  kind TEXT NOT NULL DEFAULT '',"
    "  size INTEGER,"
    "  mtime_ns INTEGER,"
    "  inode INTEGER,"
    "  fingerprint BLOB,"
    "  rows INTEGER NOT NULL DEFAULT 0,"
    "  events INTEGER NOT NULL DEFAULT 0,"
    "  first_seq INTEGER,"
    "  last_seq INTEGER,"
    "  imported_at_ms INTEGER NOT NULL);"
    "INSERT INTO imports_2 (name, size, mtime_ns, inode, rows, events,"
    "                       first_seq, last_seq, imported_at_ms)"
    "  SELECT name, size, mtime_ns, inode,"
    "         coalesce(last_seq - first_seq + 1, 0),"
    "         coalesce(last_seq - first_seq + 1, 0),"
    "         first_seq, last_seq, imported_at_ms"
    "    FROM imports ORDER BY imported_at_ms, first_seq;"
    "DROP TABLE imports;"
    "ALTER TABLE imports_2 RENAME TO imports;"
    "CREATE INDEX imports_source ON imports (name, size, mtime_ns, inode);"
    "CREATE INDEX imports_kind ON imports (kind, id);"
    "ALTER TABLE events ADD COLUMN import_id INTEGER;"
    "ALTER TABLE events ADD COLUMN line INTEGER;"
    "UPDATE events SET import_id = (SELECT id FROM imports i"
    "  WHERE events.seq BETWEEN i.first_seq AND i.last_seq);"
    "CREATE INDEX events_import ON events (import_id, state);"
    "CREATE TABLE natural_keys ("
    "  kind TEXT NOT NULL,"
    "  key BLOB NOT NULL,"
    "  row_hash BLOB NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, key)) WITHOUT ROWID;";

/* 2 -> 3: an import can be withdrawn (issue 11): when and why, and the
 * Withdrawal events that take it back. */
static const char *const migrate_2_to_3_sql =
    "ALTER TABLE imports ADD COLUMN withdrawn_at_ms INTEGER;"
    "ALTER TABLE imports ADD COLUMN withdraw_reason TEXT;"
    "ALTER TABLE events ADD COLUMN withdraws INTEGER;"
    "CREATE INDEX events_withdraws ON events (withdraws, state)"
    "  WHERE withdraws IS NOT NULL;";

/* 3 -> 4: the reference data the hub sent last (issue 11,
 * docs/DESIGN.md §4), so imports are checked against it offline too. */
static const char *const migrate_3_to_4_sql =
    "CREATE TABLE reference ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  version TEXT NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  received_at_ms INTEGER NOT NULL,"
    "  checked_at_ms INTEGER NOT NULL);";

/* migrations[v - 1] takes an outbox from version v to v + 1. */
static const char *const migrations[] = {
    migrate_1_to_2_sql,
    migrate_2_to_3_sql,
    migrate_3_to_4_sql,
};

/* Logs the current SQLite error of the outbox for the action named. */
static int fail(const struct outbox *outbox, const char *action)
{
    ws_error("outbox", "could not %s: %s path=%s", action,
             sqlite3_errmsg(outbox->db), outbox->path);
    return -EIO;
}

static int exec(struct outbox *outbox, const char *sql, const char *action)
{
    char *msg = NULL;
    if (sqlite3_exec(outbox->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ws_error("outbox", "could not %s: %s path=%s", action,
                 msg ? msg : sqlite3_errmsg(outbox->db), outbox->path);
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

static void rollback(struct outbox *outbox)
{
    /* Harmless when no transaction is open (SQLite then reports an error
     * we have nothing to add to). */
    if (!sqlite3_get_autocommit(outbox->db))
        sqlite3_exec(outbox->db, "ROLLBACK", NULL, NULL, NULL);
}

static int prepare(struct outbox *outbox, const char *sql, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2(outbox->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return fail(outbox, "prepare statement");
    return 0;
}

/* Creates the schema and the meta row in one transaction. */
static int create_schema(struct outbox *outbox, const char *ward)
{
    sqlite3_stmt *stmt = NULL;
    char instance[WS_UUID_LEN + 1];
    int rc = ws_uuid4(instance);
    if (rc < 0) {
        ws_error("outbox", "could not make agent_instance: %s", strerror(-rc));
        return rc;
    }
    if ((rc = exec(outbox, "BEGIN IMMEDIATE", "begin transaction")) < 0)
        return rc;
    /* Another process may have created it while we waited for the lock. */
    if ((rc = prepare(outbox,
                      "SELECT count(*) FROM sqlite_master WHERE name = 'meta'",
                      &stmt)) < 0)
        goto rollback;
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        rc = fail(outbox, "read schema");
        goto rollback;
    }
    int exists = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (exists)
        return exec(outbox, "COMMIT", "commit");

    if ((rc = exec(outbox, schema_sql, "create outbox schema")) < 0)
        goto rollback;
    if ((rc = prepare(outbox,
                      "INSERT INTO meta (id, agent_instance, ward, next_seq) "
                      "VALUES (1, ?1, ?2, 1)",
                      &stmt)) < 0)
        goto rollback;
    sqlite3_bind_text(stmt, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, ward, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        rc = fail(outbox, "write outbox meta");
        goto rollback;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if ((rc = exec(outbox, "PRAGMA user_version = 1", "set schema version")) <
        0)
        goto rollback;
    if ((rc = exec(outbox, "COMMIT", "commit")) < 0)
        goto rollback;
    ws_info("outbox", "created outbox path=%s ward=%s agent_instance=%s",
            outbox->path, ward, instance);
    return 0;

rollback:
    sqlite3_finalize(stmt);
    rollback(outbox);
    return rc;
}

static int load_meta(struct outbox *outbox)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(
        outbox, "SELECT agent_instance, ward FROM meta WHERE id = 1", &stmt);
    if (rc < 0)
        return rc;
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        ws_error("outbox", "outbox has no meta row path=%s", outbox->path);
        sqlite3_finalize(stmt);
        return -EIO;
    }
    const char *instance = (const char *)sqlite3_column_text(stmt, 0);
    const char *ward = (const char *)sqlite3_column_text(stmt, 1);
    ws_strlcpy(outbox->agent_instance, instance ? instance : "",
               sizeof(outbox->agent_instance));
    ws_strlcpy(outbox->ward, ward ? ward : "", sizeof(outbox->ward));
    sqlite3_finalize(stmt);
    return 0;
}

static int schema_version(struct outbox *outbox, int *version)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox, "PRAGMA user_version", &stmt);
    if (rc < 0)
        return rc;
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return fail(outbox, "read schema version");
    }
    *version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return 0;
}

/* Brings the outbox from its version to OUTBOX_SCHEMA_VERSION, one step
 * per transaction; another process may have taken a step meanwhile, so
 * the version is read again under the write lock. */
static int migrate(struct outbox *outbox)
{
    int version = 0;
    int rc;
    for (;;) {
        if ((rc = exec(outbox, "BEGIN IMMEDIATE", "begin transaction")) < 0)
            return rc;
        if ((rc = schema_version(outbox, &version)) < 0)
            goto rollback;
        if (version >= OUTBOX_SCHEMA_VERSION) {
            rollback(outbox);
            return 0;
        }
        char set_version[64];
        snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d",
                 version + 1);
        if ((rc = exec(outbox, migrations[version - 1],
                       "migrate outbox schema")) < 0 ||
            (rc = exec(outbox, set_version, "set schema version")) < 0 ||
            (rc = exec(outbox, "COMMIT", "commit schema migration")) < 0)
            goto rollback;
        ws_info("outbox",
                "migrated outbox schema from_version=%d "
                "to_version=%d path=%s",
                version, version + 1, outbox->path);
    }

rollback:
    rollback(outbox);
    return rc;
}

/* The outbox, its -wal and -shm files: owner only (issue 11). A file of
 * another owner is left as it is, with a warning. */
static void restrict_mode(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char file[4200];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        struct stat st;
        snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
        if (stat(file, &st) < 0 || (st.st_mode & 077) == 0)
            continue;
        if (chmod(file, st.st_mode & 0700) < 0)
            ws_warn("outbox",
                    "could not make \"%s\" readable by its owner only: %s",
                    file, strerror(errno));
        else
            ws_info("outbox", "made file owner-only file=%s old_mode=%04o",
                    file, (unsigned)(st.st_mode & 07777));
    }
}

int outbox_open(const char *path, const char *ward, bool create,
                struct outbox **out)
{
    int rc;
    int version = 0;
    struct outbox *outbox = calloc(1, sizeof(*outbox));
    if (!outbox || !(outbox->path = strdup(path))) {
        free(outbox);
        return -ENOMEM;
    }
    if (create) {
        /* Made 0600 before SQLite sees it, which would use the umask. */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    restrict_mode(path);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &outbox->db, flags, NULL) != SQLITE_OK) {
        if (!outbox->db) {
            rc = -ENOMEM;
        } else if (!create && sqlite3_errcode(outbox->db) == SQLITE_CANTOPEN) {
            ws_error("outbox",
                     "no outbox at \"%s\" (nothing was imported "
                     "yet, or --home is wrong)",
                     path);
            rc = -ENOENT;
        } else {
            rc = fail(outbox, "open outbox");
        }
        goto close;
    }
    sqlite3_extended_result_codes(outbox->db, 1);
    sqlite3_busy_timeout(outbox->db, OUTBOX_BUSY_TIMEOUT_MS);
    if ((rc = exec(outbox, "PRAGMA journal_mode = WAL", "enable WAL")) < 0 ||
        (rc = exec(outbox, "PRAGMA synchronous = FULL",
                   "set synchronous=FULL")) < 0)
        goto close;
    if ((rc = schema_version(outbox, &version)) < 0)
        goto close;
    if (version == 0) {
        if (!create) {
            ws_error("outbox", "\"%s\" is not a ward-agent outbox", path);
            rc = -ENOENT;
            goto close;
        }
        if (!ward || !*ward) {
            ws_error("outbox",
                     "cannot create an outbox without a ward "
                     "(set [agent] ward, WARDSYNC_AGENT_WARD or --ward)");
            rc = -EINVAL;
            goto close;
        }
        if ((rc = create_schema(outbox, ward)) < 0)
            goto close;
        version = 1;
    } else if (version > OUTBOX_SCHEMA_VERSION) {
        ws_error("outbox",
                 "outbox schema version %d is newer than this ward-agent "
                 "knows (%d): use the newer ward-agent path=%s",
                 version, OUTBOX_SCHEMA_VERSION, path);
        rc = -EPROTO;
        goto close;
    }
    if (version < OUTBOX_SCHEMA_VERSION && (rc = migrate(outbox)) < 0)
        goto close;
    restrict_mode(path);
    if ((rc = load_meta(outbox)) < 0)
        goto close;
    if (ward && *ward && strcmp(ward, outbox->ward) != 0) {
        ws_error("outbox", "outbox belongs to ward %s, not %s path=%s",
                 outbox->ward, ward, path);
        rc = -EINVAL;
        goto close;
    }
    *out = outbox;
    return 0;

close:
    outbox_close(&outbox);
    return rc;
}

void outbox_close(struct outbox **outbox)
{
    if (!outbox || !*outbox)
        return;
    if ((*outbox)->db && sqlite3_close((*outbox)->db) != SQLITE_OK)
        ws_warn("outbox", "could not close outbox: %s path=%s",
                sqlite3_errmsg((*outbox)->db), (*outbox)->path);
    free((*outbox)->path);
    free(*outbox);
    *outbox = NULL;
}

const char *outbox_agent_instance(const struct outbox *outbox)
{
    return outbox->agent_instance;
}

const char *outbox_ward(const struct outbox *outbox)
{
    return outbox->ward;
}

/* Writes seq as the encoding of field 1 (varint) into buf (11 bytes) and
 * returns its length. protobuf-c writes fields in field-number order and
 * seq is field 1 of Event, so this prefix followed by the packed Event
 * without seq is exactly the packed Event with seq set. */
static size_t encode_seq_field(uint64_t seq, uint8_t buf[11])
{
    size_t n = 0;
    buf[n++] = 0x08; /* field 1, wire type 0 (varint) */
    do {
        uint8_t byte = seq & 0x7f;
        seq >>= 7;
        buf[n++] = seq ? (byte | 0x80) : byte;
    } while (seq);
    return n;
}

/* Binds the key of an imported file (name, size, mtime, inode) to ?1..?4. */
static void bind_source(sqlite3_stmt *stmt, const struct outbox_source *source)
{
    sqlite3_bind_text(stmt, 1, source->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, source->size);
    sqlite3_bind_int64(stmt, 3, source->mtime_ns);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)source->inode);
}

/* Records import inside the open transaction; sets *id to its row. */
static int record_import(struct outbox *outbox,
                         const struct outbox_import *import, int64_t *id)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox,
                     "INSERT INTO imports (size, mtime_ns, inode, name, kind, "
                     "fingerprint, rows, imported_at_ms) "
                     "VALUES (?2, ?3, ?4, ?1, ?5, ?6, ?7, ?8)",
                     &stmt);
    if (rc < 0)
        return rc;
    if (import->source)
        bind_source(stmt, import->source);
    /* The name the clerk knows the file by, drop folder or not. */
    sqlite3_bind_text(stmt, 1, import->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, import->kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 6, import->fingerprint, OUTBOX_FINGERPRINT_LEN,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 7, (sqlite3_int64)import->rows);
    sqlite3_bind_int64(stmt, 8, ws_now_ms());
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = fail(outbox, "record imported file");
    else
        *id = sqlite3_last_insert_rowid(outbox->db);
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_source_imported(struct outbox *outbox,
                           const struct outbox_source *source, bool *imported)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox,
                     "SELECT 1 FROM imports WHERE name = ?1 AND size = ?2 "
                     "AND mtime_ns = ?3 AND inode = ?4",
                     &stmt);
    if (rc < 0)
        return rc;
    bind_source(stmt, source);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        *imported = true;
    else if (step == SQLITE_DONE)
        *imported = false;
    else
        rc = fail(outbox, "look up imported file");
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_list_imports(struct outbox *outbox, const char *kind,
                        bool with_states, outbox_import_fn fn, void *arg)
{
    static const char *const plain =
        "SELECT id, name, kind, rows, events, first_seq, last_seq, "
        "imported_at_ms, fingerprint, 0, 0, 0, withdrawn_at_ms, "
        "withdraw_reason, 0, 0, 0 FROM imports "
        "WHERE ?1 IS NULL OR kind = ?1 ORDER BY id";
    static const char *const counted =
        "SELECT i.id, i.name, i.kind, i.rows, i.events, i.first_seq, "
        "i.last_seq, i.imported_at_ms, i.fingerprint, "
        "  count(*) FILTER (WHERE e.state = 'queued'), "
        "  count(*) FILTER (WHERE e.state = 'delivered'), "
        "  count(*) FILTER (WHERE e.state = 'rejected'), "
        "  i.withdrawn_at_ms, i.withdraw_reason, "
        "  (SELECT count(*) FROM events w WHERE w.withdraws = i.id), "
        "  (SELECT count(*) FROM events w WHERE w.withdraws = i.id "
        "     AND w.state = 'queued'), "
        "  (SELECT count(*) FROM events w WHERE w.withdraws = i.id "
        "     AND w.state = 'rejected') "
        "FROM imports i LEFT JOIN events e ON e.import_id = i.id "
        "WHERE ?1 IS NULL OR i.kind = ?1 GROUP BY i.id ORDER BY i.id";
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox, with_states ? counted : plain, &stmt);
    if (rc < 0)
        return rc;
    if (kind)
        sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct outbox_import_info info;
        memset(&info, 0, sizeof(info));
        const char *name = (const char *)sqlite3_column_text(stmt, 1);
        const char *kind_text = (const char *)sqlite3_column_text(stmt, 2);
        info.id = sqlite3_column_int64(stmt, 0);
        info.name = name ? name : "";
        info.kind = kind_text ? kind_text : "";
        info.rows = (uint64_t)sqlite3_column_int64(stmt, 3);
        info.events = (uint64_t)sqlite3_column_int64(stmt, 4);
        info.first_seq = (uint64_t)sqlite3_column_int64(stmt, 5);
        info.last_seq = (uint64_t)sqlite3_column_int64(stmt, 6);
        info.imported_at_ms = sqlite3_column_int64(stmt, 7);
        if (sqlite3_column_bytes(stmt, 8) == OUTBOX_FINGERPRINT_LEN) {
            info.has_fingerprint = true;
            memcpy(info.fingerprint, sqlite3_column_blob(stmt, 8),
                   OUTBOX_FINGERPRINT_LEN);
        }
        info.queued = (uint64_t)sqlite3_column_int64(stmt, 9);
        info.delivered = (uint64_t)sqlite3_column_int64(stmt, 10);
        info.rejected = (uint64_t)sqlite3_column_int64(stmt, 11);
        info.withdrawn_at_ms = sqlite3_column_int64(stmt, 12);
        const char *why = (const char *)sqlite3_column_text(stmt, 13);
        info.withdraw_reason = why ? why : "";
        info.withdrawals = (uint64_t)sqlite3_column_int64(stmt, 14);
        info.withdrawals_queued = (uint64_t)sqlite3_column_int64(stmt, 15);
        info.withdrawals_rejected = (uint64_t)sqlite3_column_int64(stmt, 16);
        fn(&info, arg);
    }
    if (step != SQLITE_DONE)
        rc = fail(outbox, "list imports");
    sqlite3_finalize(stmt);
    return rc;
}

struct outbox_appender {
    struct outbox *outbox;
    sqlite3_stmt *insert;
    sqlite3_stmt *claim_read;
    sqlite3_stmt *claim_write;
    uint64_t first;
    int64_t import_id; /* 0: none */
    uint8_t *payload;
    size_t payload_cap;
};

static void appender_free(struct outbox_appender *a)
{
    sqlite3_finalize(a->insert);
    sqlite3_finalize(a->claim_read);
    sqlite3_finalize(a->claim_write);
    free(a->payload);
    free(a);
}

int outbox_append_begin(struct outbox *outbox,
                        const struct outbox_import *import,
                        struct outbox_appender **out)
{
    sqlite3_stmt *next = NULL;
    int rc;

    *out = NULL;
    struct outbox_appender *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->outbox = outbox;
    if ((rc = exec(outbox, "BEGIN IMMEDIATE", "begin transaction")) < 0) {
        free(a);
        return rc;
    }
    if ((rc = prepare(outbox, "SELECT next_seq FROM meta WHERE id = 1",
                      &next)) < 0)
        goto fail;
    if (sqlite3_step(next) != SQLITE_ROW) {
        rc = fail(outbox, "read next_seq");
        goto fail;
    }
    a->first = (uint64_t)sqlite3_column_int64(next, 0);
    if ((rc = prepare(outbox,
                      "INSERT INTO events (seq, event_id, kind, payload, "
                      "state, queued_at_ms, import_id, line, withdraws) "
                      "VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8)",
                      &a->insert)) < 0)
        goto fail;
    if (import && (rc = record_import(outbox, import, &a->import_id)) < 0)
        goto fail;
    sqlite3_finalize(next);
    *out = a;
    return 0;

fail:
    sqlite3_finalize(next);
    appender_free(a);
    rollback(outbox);
    return rc;
}

uint64_t outbox_appender_first(const struct outbox_appender *a)
{
    return a->first;
}

int outbox_append_put(struct outbox_appender *a,
                      const struct outbox_new_event *ev, uint64_t seq)
{
    uint8_t prefix[11];
    size_t prefix_len = encode_seq_field(seq, prefix);
    size_t len = prefix_len + ev->body_len;
    if (len > a->payload_cap) {
        uint8_t *bigger = realloc(a->payload, len);
        if (!bigger)
            return -ENOMEM;
        a->payload = bigger;
        a->payload_cap = len;
    }
    memcpy(a->payload, prefix, prefix_len);
    if (ev->body_len)
        memcpy(a->payload + prefix_len, ev->body, ev->body_len);
    sqlite3_bind_int64(a->insert, 1, (sqlite3_int64)seq);
    sqlite3_bind_text(a->insert, 2, ev->event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(a->insert, 3, ev->kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(a->insert, 4, a->payload, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(a->insert, 5, ev->queued_at_ms);
    if (a->import_id)
        sqlite3_bind_int64(a->insert, 6, a->import_id);
    if (ev->line > 0)
        sqlite3_bind_int64(a->insert, 7, ev->line);
    if (ev->withdraws > 0)
        sqlite3_bind_int64(a->insert, 8, ev->withdraws);
    int rc = 0;
    if (sqlite3_step(a->insert) != SQLITE_DONE)
        rc = fail(a->outbox, "queue event");
    sqlite3_reset(a->insert);
    sqlite3_clear_bindings(a->insert);
    return rc;
}

void outbox_import_events_free(struct outbox_import_events *e)
{
    free(e->name);
    free(e->ids);
    memset(e, 0, sizeof(*e));
}

int outbox_append_import_events(struct outbox_appender *a, int64_t import_id,
                                struct outbox_import_events *out)
{
    struct outbox *outbox = a->outbox;
    sqlite3_stmt *stmt = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = prepare(outbox,
                      "SELECT name, coalesce(withdrawn_at_ms, 0), "
                      "  (SELECT count(*) FROM events e "
                      "    WHERE e.import_id = i.id AND e.state = 'rejected') "
                      "FROM imports i WHERE id = ?1",
                      &stmt)) < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, import_id);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        out->name = strdup(name ? name : "");
        out->withdrawn_at_ms = sqlite3_column_int64(stmt, 1);
        out->rejected = (uint64_t)sqlite3_column_int64(stmt, 2);
        rc = out->name ? 0 : -ENOMEM;
    } else {
        rc = step == SQLITE_DONE ? -ENOENT : fail(outbox, "read import");
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (rc < 0)
        goto free_out;

    if ((rc = prepare(outbox,
                      "SELECT event_id FROM events WHERE import_id = ?1 "
                      "AND state <> 'rejected' ORDER BY seq",
                      &stmt)) < 0)
        goto free_out;
    sqlite3_bind_int64(stmt, 1, import_id);
    size_t cap = 0;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(stmt, 0);
        if (out->n_ids == cap) {
            size_t bigger = cap ? 2 * cap : 256;
            void *more = realloc(out->ids, bigger * sizeof(*out->ids));
            if (!more) {
                rc = -ENOMEM;
                goto free_out;
            }
            out->ids = more;
            cap = bigger;
        }
        ws_strlcpy(out->ids[out->n_ids++], id ? id : "", sizeof(out->ids[0]));
    }
    if (step != SQLITE_DONE) {
        rc = fail(outbox, "read events of import");
        goto free_out;
    }
    sqlite3_finalize(stmt);
    return 0;

free_out:
    sqlite3_finalize(stmt);
    outbox_import_events_free(out);
    return rc;
}

int outbox_append_mark_withdrawn(struct outbox_appender *a, int64_t import_id,
                                 const char *reason)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(a->outbox,
                     "UPDATE imports SET withdrawn_at_ms = ?2, "
                     "withdraw_reason = ?3 WHERE id = ?1 "
                     "AND withdrawn_at_ms IS NULL",
                     &stmt);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, import_id);
    sqlite3_bind_int64(stmt, 2, ws_now_ms());
    sqlite3_bind_text(stmt, 3, reason ? reason : "", -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = fail(a->outbox, "mark import withdrawn");
    else if (sqlite3_changes(a->outbox->db) != 1)
        rc = -ENOENT;
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_append_claim(struct outbox_appender *a, const char *kind,
                        const void *key, size_t key_len,
                        const uint8_t row_hash[OUTBOX_FINGERPRINT_LEN],
                        uint64_t seq, bool *repeated, uint64_t *earlier_seq)
{
    struct outbox *outbox = a->outbox;
    int rc;

    *repeated = false;
    *earlier_seq = 0;
    /* An event the hub rejected does not make its row a repeat: the
     * clerk fixing the cause and importing the row again means it. Nor
     * does one of a withdrawn import: the hub no longer counts it. */
    if (!a->claim_read &&
        (rc = prepare(outbox,
                      "SELECT k.seq, k.row_hash = ?3 AND "
                      "  coalesce(e.state, '') <> 'rejected' AND "
                      "  i.withdrawn_at_ms IS NULL "
                      "FROM natural_keys k LEFT JOIN events e USING (seq) "
                      "LEFT JOIN imports i ON i.id = e.import_id "
                      "WHERE k.kind = ?1 AND k.key = ?2",
                      &a->claim_read)) < 0)
        return rc;
    if (!a->claim_write &&
        (rc = prepare(outbox,
                      "INSERT INTO natural_keys (kind, key, row_hash, seq) "
                      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (kind, key) "
                      "DO UPDATE SET row_hash = excluded.row_hash, "
                      "seq = excluded.seq",
                      &a->claim_write)) < 0)
        return rc;
    sqlite3_stmt *read = a->claim_read;
    sqlite3_bind_text(read, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(read, 2, key, (int)key_len, SQLITE_STATIC);
    sqlite3_bind_blob(read, 3, row_hash, OUTBOX_FINGERPRINT_LEN, SQLITE_STATIC);
    int step = sqlite3_step(read);
    if (step == SQLITE_ROW) {
        *earlier_seq = (uint64_t)sqlite3_column_int64(read, 0);
        *repeated = sqlite3_column_int(read, 1) != 0;
    }
    sqlite3_reset(read);
    sqlite3_clear_bindings(read);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return fail(outbox, "look up natural key");
    if (*repeated)
        return 0;
    sqlite3_stmt *write = a->claim_write;
    sqlite3_bind_text(write, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(write, 2, key, (int)key_len, SQLITE_STATIC);
    sqlite3_bind_blob(write, 3, row_hash, OUTBOX_FINGERPRINT_LEN,
                      SQLITE_STATIC);
    sqlite3_bind_int64(write, 4, (sqlite3_int64)seq);
    rc = 0;
    if (sqlite3_step(write) != SQLITE_DONE)
        rc = fail(outbox, "record natural key");
    sqlite3_reset(write);
    sqlite3_clear_bindings(write);
    return rc;
}

/* Notes the events and seqs of the import inside the open transaction. */
static int finish_import(struct outbox_appender *a, size_t n)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(a->outbox,
                     "UPDATE imports SET events = ?2, first_seq = ?3, "
                     "last_seq = ?4 WHERE id = ?1",
                     &stmt);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, a->import_id);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)n);
    if (n) {
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64)a->first);
        sqlite3_bind_int64(stmt, 4, (sqlite3_int64)(a->first + n - 1));
    }
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = fail(a->outbox, "record imported file");
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_append_commit(struct outbox_appender **ap, size_t n)
{
    struct outbox_appender *a = *ap;
    struct outbox *outbox = a->outbox;
    sqlite3_stmt *update = NULL;
    uint64_t end = a->first + n;
    int rc;

    *ap = NULL;
    if ((rc = prepare(outbox, "UPDATE meta SET next_seq = ?1 WHERE id = 1",
                      &update)) < 0)
        goto rollback;
    sqlite3_bind_int64(update, 1, (sqlite3_int64)end);
    if (sqlite3_step(update) != SQLITE_DONE) {
        rc = fail(outbox, "advance next_seq");
        goto rollback;
    }
    if (a->import_id && (rc = finish_import(a, n)) < 0)
        goto rollback;
    sqlite3_finalize(update);
    update = NULL;
    sqlite3_finalize(a->insert);
    a->insert = NULL;
    sqlite3_finalize(a->claim_read);
    a->claim_read = NULL;
    sqlite3_finalize(a->claim_write);
    a->claim_write = NULL;
    /* The events are queued only once this returns. */
    if ((rc = exec(outbox, "COMMIT", "commit queued events")) < 0)
        goto rollback;
    appender_free(a);
    return 0;

rollback:
    sqlite3_finalize(update);
    appender_free(a);
    rollback(outbox);
    return rc;
}

void outbox_append_abort(struct outbox_appender **ap)
{
    if (!ap || !*ap)
        return;
    struct outbox *outbox = (*ap)->outbox;
    appender_free(*ap);
    *ap = NULL;
    rollback(outbox);
}

int outbox_append(struct outbox *outbox, const struct outbox_new_event *events,
                  size_t n, const struct outbox_import *import,
                  uint64_t *first_seq, uint64_t *last_seq)
{
    struct outbox_appender *a = NULL;
    int rc;

    if (n == 0 && !import)
        return 0;
    if ((rc = outbox_append_begin(outbox, import, &a)) < 0)
        return rc;
    uint64_t first = a->first;
    for (size_t i = 0; i < n; i++) {
        if ((rc = outbox_append_put(a, &events[i], first + i)) < 0) {
            outbox_append_abort(&a);
            return rc;
        }
    }
    if ((rc = outbox_append_commit(&a, n)) < 0)
        return rc;
    if (first_seq)
        *first_seq = first;
    if (last_seq)
        *last_seq = first + n - 1;
    return 0;
}

void outbox_rows_free(struct outbox_row **rows, size_t n_rows)
{
    if (!rows || !*rows)
        return;
    for (size_t i = 0; i < n_rows; i++)
        free((*rows)[i].payload);
    free(*rows);
    *rows = NULL;
}

int outbox_read(struct outbox *outbox, uint64_t from_seq, size_t max_events,
                size_t max_bytes, struct outbox_row **rows, size_t *n_rows)
{
    sqlite3_stmt *stmt = NULL;
    struct outbox_row *out = NULL;
    size_t n = 0;
    size_t bytes = 0;
    int rc;

    *rows = NULL;
    *n_rows = 0;
    if (max_events == 0)
        return 0;
    if ((rc = prepare(outbox,
                      "SELECT seq, payload FROM events WHERE seq >= ?1 "
                      "ORDER BY seq LIMIT ?2",
                      &stmt)) < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)from_seq);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max_events);
    out = calloc(max_events, sizeof(*out));
    if (!out) {
        rc = -ENOMEM;
        goto fail;
    }
    for (;;) {
        int step = sqlite3_step(stmt);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = fail(outbox, "read queued events");
            goto fail;
        }
        size_t len = (size_t)sqlite3_column_bytes(stmt, 1);
        if (n > 0 && bytes + len > max_bytes)
            break;
        const void *blob = sqlite3_column_blob(stmt, 1);
        out[n].seq = (uint64_t)sqlite3_column_int64(stmt, 0);
        out[n].payload = malloc(len ? len : 1);
        if (!out[n].payload) {
            rc = -ENOMEM;
            goto fail;
        }
        if (len)
            memcpy(out[n].payload, blob, len);
        out[n].payload_len = len;
        bytes += len;
        n++;
    }
    sqlite3_finalize(stmt);
    if (n == 0) {
        free(out);
        out = NULL;
    }
    *rows = out;
    *n_rows = n;
    return 0;

fail:
    sqlite3_finalize(stmt);
    outbox_rows_free(&out, n);
    return rc;
}

int outbox_apply_ack(struct outbox *outbox, uint64_t committed_through,
                     const struct outbox_refusal *refusals, size_t n_refusals,
                     int64_t now_ms)
{
    sqlite3_stmt *reject = NULL;
    sqlite3_stmt *deliver = NULL;
    sqlite3_stmt *meta = NULL;
    int rc;

    if ((rc = exec(outbox, "BEGIN IMMEDIATE", "begin transaction")) < 0)
        return rc;
    if (n_refusals) {
        if ((rc = prepare(outbox,
                          "UPDATE events SET state = 'rejected', reason = ?2 "
                          "WHERE seq = ?1 AND state = 'queued'",
                          &reject)) < 0)
            goto rollback;
        for (size_t i = 0; i < n_refusals; i++) {
            if (refusals[i].seq == 0 || refusals[i].seq > committed_through)
                continue;
            sqlite3_bind_int64(reject, 1, (sqlite3_int64)refusals[i].seq);
            sqlite3_bind_text(reject, 2, refusals[i].reason, -1, SQLITE_STATIC);
            if (sqlite3_step(reject) != SQLITE_DONE) {
                rc = fail(outbox, "mark event rejected");
                goto rollback;
            }
            sqlite3_reset(reject);
        }
    }
    if ((rc = prepare(outbox,
                      "UPDATE events SET state = 'delivered' "
                      "WHERE seq <= ?1 AND state = 'queued'",
                      &deliver)) < 0)
        goto rollback;
    sqlite3_bind_int64(deliver, 1, (sqlite3_int64)committed_through);
    if (sqlite3_step(deliver) != SQLITE_DONE) {
        rc = fail(outbox, "mark events delivered");
        goto rollback;
    }
    if ((rc = prepare(outbox,
                      "UPDATE meta SET hub_mark = ?1, last_contact_ms = ?2 "
                      "WHERE id = 1",
                      &meta)) < 0)
        goto rollback;
    sqlite3_bind_int64(meta, 1, (sqlite3_int64)committed_through);
    sqlite3_bind_int64(meta, 2, now_ms);
    if (sqlite3_step(meta) != SQLITE_DONE) {
        rc = fail(outbox, "record hub mark");
        goto rollback;
    }
    sqlite3_finalize(reject);
    sqlite3_finalize(deliver);
    sqlite3_finalize(meta);
    reject = deliver = meta = NULL;
    if ((rc = exec(outbox, "COMMIT", "commit acknowledgement")) < 0)
        goto rollback;
    return 0;

rollback:
    sqlite3_finalize(reject);
    sqlite3_finalize(deliver);
    sqlite3_finalize(meta);
    rollback(outbox);
    return rc;
}

int outbox_touch(struct outbox *outbox, uint64_t hub_mark, int64_t now_ms)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox,
                     "UPDATE meta SET hub_mark = ?1, last_contact_ms = ?2 "
                     "WHERE id = 1",
                     &stmt);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)hub_mark);
    sqlite3_bind_int64(stmt, 2, now_ms);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = fail(outbox, "record hub contact");
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_get_counts(struct outbox *outbox, struct outbox_counts *counts)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    memset(counts, 0, sizeof(*counts));
    counts->last_contact_ms = -1;
    if ((rc = prepare(outbox,
                      "SELECT state, count(*) FROM events GROUP BY state",
                      &stmt)) < 0)
        return rc;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(stmt, 0);
        uint64_t count = (uint64_t)sqlite3_column_int64(stmt, 1);
        if (!state)
            continue;
        if (strcmp(state, "queued") == 0)
            counts->queued = count;
        else if (strcmp(state, "delivered") == 0)
            counts->delivered = count;
        else if (strcmp(state, "rejected") == 0)
            counts->rejected = count;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (step != SQLITE_DONE)
        return fail(outbox, "count events");

    if ((rc = prepare(outbox,
                      "SELECT next_seq, hub_mark, last_contact_ms FROM meta "
                      "WHERE id = 1",
                      &stmt)) < 0)
        return rc;
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return fail(outbox, "read outbox meta");
    }
    counts->last_seq = (uint64_t)sqlite3_column_int64(stmt, 0) - 1;
    counts->hub_mark = (uint64_t)sqlite3_column_int64(stmt, 1);
    if (sqlite3_column_type(stmt, 2) != SQLITE_NULL)
        counts->last_contact_ms = sqlite3_column_int64(stmt, 2);
    sqlite3_finalize(stmt);
    return 0;
}

int outbox_count_queued_after(struct outbox *outbox, uint64_t after_seq,
                              uint64_t *count)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox,
                     "SELECT count(*) FROM events "
                     "WHERE state = 'queued' AND seq > ?1",
                     &stmt);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)after_seq);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *count = (uint64_t)sqlite3_column_int64(stmt, 0);
    else
        rc = fail(outbox, "count queued events");
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_last_seq(struct outbox *outbox, uint64_t *last_seq)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox, "SELECT next_seq FROM meta WHERE id = 1", &stmt);
    if (rc < 0)
        return rc;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *last_seq = (uint64_t)sqlite3_column_int64(stmt, 0) - 1;
    else
        rc = fail(outbox, "read outbox meta");
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_list_rejected(struct outbox *outbox, size_t limit,
                         outbox_rejected_fn fn, void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox,
                     "SELECT e.seq, e.kind, e.reason, i.name, e.line, i.id "
                     "FROM events e LEFT JOIN imports i "
                     "  ON i.id = coalesce(e.import_id, e.withdraws) "
                     "WHERE e.state = 'rejected' ORDER BY e.seq DESC LIMIT ?1",
                     &stmt);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)limit);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(stmt, 1);
        const char *reason = (const char *)sqlite3_column_text(stmt, 2);
        const char *file = (const char *)sqlite3_column_text(stmt, 3);
        struct outbox_rejected_event ev = {
            .seq = (uint64_t)sqlite3_column_int64(stmt, 0),
            .kind = kind ? kind : "",
            .reason = reason ? reason : "",
            .file = file ? file : "",
            .line = (long)sqlite3_column_int64(stmt, 4),
            .import_id = sqlite3_column_int64(stmt, 5),
        };
        fn(&ev, arg);
    }
    if (step != SQLITE_DONE)
        rc = fail(outbox, "list rejected events");
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_reference_store(struct outbox *outbox, const char *version,
                           const uint8_t *payload, size_t len, int64_t now_ms)
{
    sqlite3_stmt *stmt = NULL;
    int rc =
        prepare(outbox,
                "INSERT INTO reference (id, version, payload,"
                " received_at_ms, checked_at_ms)"
                " VALUES (1, ?1, ?2, ?3, ?3)"
                " ON CONFLICT (id) DO UPDATE SET version = excluded.version,"
                " payload = excluded.payload,"
                " received_at_ms = excluded.received_at_ms,"
                " checked_at_ms = excluded.checked_at_ms",
                &stmt);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, version, -1, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, len ? (const void *)payload : "", (int)len,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, now_ms);
    rc =
        sqlite3_step(stmt) == SQLITE_DONE ? 0 : fail(outbox, "store reference");
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_reference_checked(struct outbox *outbox, const char *version,
                             int64_t now_ms)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare(outbox,
                     "UPDATE reference SET checked_at_ms = ?2"
                     " WHERE id = 1 AND version = ?1",
                     &stmt);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now_ms);
    rc =
        sqlite3_step(stmt) == SQLITE_DONE ? 0 : fail(outbox, "touch reference");
    sqlite3_finalize(stmt);
    return rc;
}

int outbox_reference_load(struct outbox *outbox,
                          struct outbox_reference_info *info, uint8_t **payload,
                          size_t *len)
{
    sqlite3_stmt *stmt = NULL;
    memset(info, 0, sizeof(*info));
    if (payload)
        *payload = NULL;
    if (len)
        *len = 0;
    int rc = prepare(outbox,
                     "SELECT version, received_at_ms, checked_at_ms, payload"
                     " FROM reference WHERE id = 1",
                     &stmt);
    if (rc < 0)
        return rc;
    int step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) {
        sqlite3_finalize(stmt);
        return 0;
    }
    if (step != SQLITE_ROW) {
        rc = fail(outbox, "read reference");
        sqlite3_finalize(stmt);
        return rc;
    }
    const char *version = (const char *)sqlite3_column_text(stmt, 0);
    info->present = true;
    ws_strlcpy(info->version, version ? version : "", sizeof(info->version));
    info->received_at_ms = sqlite3_column_int64(stmt, 1);
    info->checked_at_ms = sqlite3_column_int64(stmt, 2);
    if (payload) {
        size_t n = (size_t)sqlite3_column_bytes(stmt, 3);
        const void *blob = sqlite3_column_blob(stmt, 3);
        *payload = malloc(n ? n : 1);
        if (!*payload) {
            sqlite3_finalize(stmt);
            return -ENOMEM;
        }
        if (n)
            memcpy(*payload, blob, n);
        *len = n;
    }
    sqlite3_finalize(stmt);
    return 0;
}
