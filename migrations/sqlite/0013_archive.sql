-- Schema version 13: the archive (the same model as migrations/0014_archive.cql). Every
-- conversation, open or resolved, listed by the day of its last activity, newest day first and
-- by id within a day: an index on that expression, so a listing over any range is one range
-- read (the archive's filters are applied while reading, by the service).

CREATE INDEX threads_by_activity_day
    ON threads_by_id (tenant, updated_at / 86400000 DESC, conversation_id);
