-- The scheduled refresh's memory of the source files it has hashed (jobs/refresh.py).
--
-- A payer's Transparency in Coverage files run to tens of gigabytes: hashing every one
-- on every refresh would read them all each time.  A file whose size and modification
-- time (nanoseconds) are what they were when it was last hashed is taken to have the
-- same content, the rule rsync and make use; `costsvc refresh --rehash` ignores it.
CREATE TABLE source_file_hashes (
    path        text PRIMARY KEY,      -- absolute
    size        bigint NOT NULL,
    mtime_ns    bigint NOT NULL,
    sha256      text NOT NULL,
    hashed_at   timestamptz NOT NULL DEFAULT now()
);
