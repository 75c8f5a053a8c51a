-- Every accepted change set writes an audience row per tag of each record it touches (three for a
-- routed case), and pulls read them by tag and position only. The index by position served the
-- hourly compaction alone: it now scans the table instead, and a push writes one index entry
-- fewer per audience row (PostgreSQL's CPU per `make bench-store` run fell by about 5%).
DROP INDEX change_audience_by_seq;
