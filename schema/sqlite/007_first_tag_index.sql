-- A record's audience is stored with its tags sorted, so a case's or a profile's customer tag
-- (`customer:<id>`) is always its first: this index finds a customer's records without reading the
-- audience of every record (the contact intake looks up a caller's open cases; docs/intake.md).
CREATE INDEX record_by_first_tag ON record(type, json_extract(audience, '$[0]'));
