-- The audit log on PostgreSQL: the same columns and names as migrations/sqlite/0001,
-- in the PostgreSQL dialect, partitioned by month so retention drops whole partitions.

-- seq is global and handed out by the store after it has locked the sites it writes
-- (see chain_heads below), so along each site's chain seq only grows. CACHE 1 matters:
-- a per-session cache would let a later transaction take a smaller number.
CREATE SEQUENCE consent_events_seq AS bigint CACHE 1;

-- One append-only row per consent event (C19), chained per site (C22).
-- choices is the exact canonical JSON text that was hashed, as on SQLite.
CREATE TABLE consent_events (
    seq            bigint      NOT NULL,
    event_id       text        NOT NULL,
    site_id        text        NOT NULL,
    consent_id     text        NOT NULL,
    action         text        NOT NULL,
    choices        text        NOT NULL,
    policy_version text        NOT NULL,
    texts_hash     text        NOT NULL,
    language       text        NOT NULL,
    widget_version text        NOT NULL,
    page           text        NOT NULL,
    ip             text        NOT NULL,
    browser        text        NOT NULL,
    gpc            boolean     NOT NULL,
    created_at     timestamptz NOT NULL,
    prev_hash      text        NOT NULL,
    hash           text        NOT NULL,
    -- A partitioned table's keys must contain the partition key.
    PRIMARY KEY (seq, created_at),
    UNIQUE (event_id, created_at)
) PARTITION BY RANGE (created_at);

-- Safety net: a row whose month has no partition yet is still stored, never refused.
-- The store creates each month's partition before writing into it, so this stays empty.
CREATE TABLE consent_events_default PARTITION OF consent_events DEFAULT;

CREATE INDEX consent_events_site_seq ON consent_events (site_id, seq);
CREATE INDEX consent_events_consent ON consent_events (site_id, consent_id, seq);
-- Rows arrive in time order, so a BRIN index answers time ranges at a tiny size.
CREATE INDEX consent_events_created_brin ON consent_events USING brin (created_at);

-- Nothing is ever updated in place (cloned onto every partition).
CREATE FUNCTION consent_events_refuse_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_events is append-only';
END
$$;
CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_refuse_update();

-- The month partition holding ``moment`` (consent_events_pYYYYMM, UTC months),
-- created if missing. Replicas may race to create it: an advisory lock serialises them,
-- and the loser finds the table there.
CREATE FUNCTION consent_events_ensure_partition(moment timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    first_day date := date_trunc('month', moment AT TIME ZONE 'UTC')::date;
    part text := 'consent_events_p' || to_char(first_day, 'YYYYMM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN part;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('kakor:consent_events:partitions'));
    BEGIN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF consent_events FOR VALUES FROM (%L) TO (%L)',
            part,
            to_char(first_day, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char(first_day + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00'
        );
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        NULL;  -- another replica created it first
    END;
    RETURN part;
END
$$;

-- The head of each site's chain. Appends lock a site's row (SELECT … FOR UPDATE, in
-- site order) before reading its head and taking seq numbers, so writers on many
-- replicas never fork a chain. Derived data: verify never trusts it, it walks the log.
-- created_at is the head row's time: a later row is never stamped earlier, so time
-- only grows along a chain even when replicas' clocks differ a little.
CREATE TABLE chain_heads (
    site_id    text        PRIMARY KEY,
    seq        bigint      NOT NULL,
    hash       text        NOT NULL,
    created_at timestamptz
);

-- The exact texts a visitor was shown, kept once per distinct texts_hash.
CREATE TABLE consent_texts (
    texts_hash     text        PRIMARY KEY,
    site_id        text        NOT NULL,
    language       text        NOT NULL,
    policy_version text        NOT NULL,
    texts          text        NOT NULL,
    first_seen     timestamptz NOT NULL
);
