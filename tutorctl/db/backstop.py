"""The PostgreSQL backstop's SQL, version by version: triggers keep one row per person per
live (held or booked) lesson in ``lesson_occupancy`` under an exclusion constraint, so no
person is occupied twice at once whatever code wrote the rows. ``migrations`` runs these."""

# The PostgreSQL backstop (version 2): a booked lesson occupies its teacher and its student;
# no person may be occupied twice at once, whatever code wrote the rows. Person and time are
# packed into one int8range (person × 10^10 + epoch seconds) so a plain GiST exclusion on
# ranges does it. (Version 3 below widens it to held lessons.)
PG_BACKSTOP = (
    "CREATE TABLE lesson_occupancy ("
    " reservation_id integer NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,"
    " person_id integer NOT NULL,"
    " span int8range NOT NULL,"
    " CONSTRAINT no_double_booking EXCLUDE USING gist (span WITH &&))",
    "CREATE INDEX ix_lesson_occupancy_reservation ON lesson_occupancy (reservation_id)",
    "CREATE FUNCTION tutorctl_occupancy() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM lesson_occupancy WHERE reservation_id = NEW.id;\n"
    "  IF NEW.status = 'booked' THEN\n"
    "    INSERT INTO lesson_occupancy (reservation_id, person_id, span)\n"
    "    SELECT NEW.id, p, int8range(p * 10000000000 + extract(epoch FROM NEW.starts_at)::bigint,\n"
    "                                p * 10000000000 + extract(epoch FROM NEW.ends_at)::bigint)\n"
    "    FROM unnest(ARRAY[NEW.teacher_id, NEW.student_id]) AS p;\n"
    "  END IF;\n"
    "  RETURN NEW;\n"
    "END $$",
    "CREATE TRIGGER reservations_occupancy AFTER INSERT OR UPDATE OF status, starts_at, ends_at,"
    " teacher_id, student_id ON reservations FOR EACH ROW EXECUTE FUNCTION tutorctl_occupancy()",
    "INSERT INTO lesson_occupancy (reservation_id, person_id, span)"
    " SELECT r.id, p, int8range(p * 10000000000 + extract(epoch FROM r.starts_at)::bigint,"
    " p * 10000000000 + extract(epoch FROM r.ends_at)::bigint)"
    " FROM reservations r, unnest(ARRAY[r.teacher_id, r.student_id]) AS p WHERE r.status = 'booked'",
)


# Version 3 extends the backstop to every live lesson, held as well as booked. The one
# legitimate overlap is a pending move: its held replacement may overlap the lesson it moves
# (SPEC invariant 1). Each occupancy row carries a lineage — the lesson's own id, or for a
# move's replacement the lineage of the lesson it moves — and rows of one lineage may overlap
# (``lineage WITH <>`` needs btree_gist, a trusted extension). The constraint is deferred to
# commit, because a move inserts its held lesson before the operation that names it.
PG_BACKSTOP_LIVE = (
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "CREATE INDEX IF NOT EXISTS ix_operations_new ON operations (new_id)",
    "ALTER TABLE lesson_occupancy DROP CONSTRAINT no_double_booking",
    "ALTER TABLE lesson_occupancy ADD COLUMN lineage integer",
    "DELETE FROM lesson_occupancy",
    # a person's stretch of time, packed as in version 2
    "CREATE OR REPLACE FUNCTION tutorctl_span(person integer, starts timestamp, ends timestamp)"
    " RETURNS int8range LANGUAGE sql IMMUTABLE AS $$"
    " SELECT int8range(person * 10000000000 + extract(epoch FROM starts)::bigint,"
    " person * 10000000000 + extract(epoch FROM ends)::bigint) $$",
    # a lesson's lineage: that of the lesson its move replaces (or that lesson's id), else its own
    "CREATE OR REPLACE FUNCTION tutorctl_lineage(lesson integer)"
    " RETURNS integer LANGUAGE sql STABLE AS $$ SELECT COALESCE("
    "(SELECT t.lineage FROM operations AS o"
    " JOIN lesson_occupancy AS t ON t.reservation_id = o.target_id"
    " WHERE o.new_id = lesson AND o.kind = 'move' ORDER BY o.id DESC LIMIT 1),"
    " (SELECT o.target_id FROM operations AS o"
    " WHERE o.new_id = lesson AND o.kind = 'move' ORDER BY o.id DESC LIMIT 1), lesson) $$",
    "CREATE OR REPLACE FUNCTION tutorctl_occupancy() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM lesson_occupancy WHERE reservation_id = NEW.id;\n"
    "  IF NEW.status IN ('held', 'booked') THEN\n"
    "    INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "    SELECT NEW.id, p, tutorctl_span(p, NEW.starts_at, NEW.ends_at), tutorctl_lineage(NEW.id)\n"
    "    FROM unnest(ARRAY[NEW.teacher_id, NEW.student_id]) AS p;\n"
    "  END IF;\n"
    "  RETURN NEW;\n"
    "END $$",
    "CREATE OR REPLACE FUNCTION tutorctl_move_lineage() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF NEW.kind = 'move' AND NEW.new_id IS NOT NULL THEN\n"
    "    UPDATE lesson_occupancy SET lineage = tutorctl_lineage(NEW.new_id)\n"
    "    WHERE reservation_id = NEW.new_id;\n"
    "  END IF;\n"
    "  RETURN NEW;\n"
    "END $$",
    "CREATE TRIGGER operations_move_lineage AFTER INSERT ON operations"
    " FOR EACH ROW EXECUTE FUNCTION tutorctl_move_lineage()",
    # backfill in two statements: a move's replacement reads the lineage of the lesson it moves,
    # which a single INSERT … SELECT could not yet see
    "INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)"
    " SELECT r.id, p, tutorctl_span(p, r.starts_at, r.ends_at), r.id"
    " FROM reservations AS r, unnest(ARRAY[r.teacher_id, r.student_id]) AS p"
    " WHERE r.status IN ('held', 'booked') AND NOT EXISTS"
    " (SELECT 1 FROM operations AS o WHERE o.new_id = r.id AND o.kind = 'move')",
    "INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)"
    " SELECT r.id, p, tutorctl_span(p, r.starts_at, r.ends_at), tutorctl_lineage(r.id)"
    " FROM reservations AS r, unnest(ARRAY[r.teacher_id, r.student_id]) AS p"
    " WHERE r.status IN ('held', 'booked') AND EXISTS"
    " (SELECT 1 FROM operations AS o WHERE o.new_id = r.id AND o.kind = 'move')",
    "ALTER TABLE lesson_occupancy ALTER COLUMN lineage SET NOT NULL",
    "ALTER TABLE lesson_occupancy ADD CONSTRAINT no_double_booking"
    " EXCLUDE USING gist (span WITH &&, lineage WITH <>) DEFERRABLE INITIALLY DEFERRED",
)

# Version 4 keeps the same occupancy rows but maintains them once per statement instead of once
# per row: two statement-level triggers read the changed lessons from transition tables, so
# expiring 100k holds is one set-based DELETE, not 100k calls of a plpgsql function. (A trigger
# with transition tables takes one event and no column list, hence two, and the UPDATE one
# keeps to rows whose status, times or people changed.)
PG_BACKSTOP_SET_BASED = (
    "DROP TRIGGER reservations_occupancy ON reservations",
    "DROP FUNCTION tutorctl_occupancy()",
    "CREATE FUNCTION tutorctl_occupancy_inserted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "  SELECT n.id, p, tutorctl_span(p, n.starts_at, n.ends_at), tutorctl_lineage(n.id)\n"
    "  FROM new_lessons AS n, unnest(ARRAY[n.teacher_id, n.student_id]) AS p\n"
    "  WHERE n.status IN ('held', 'booked');\n"
    "  RETURN NULL;\n"
    "END $$",
    # lessons that stopped being live lose their rows (one set-based DELETE: what expire,
    # confirm and abandon do); lessons live after the update whose status, times or people
    # changed get their rows rewritten. The exclusion is checked at commit.
    "CREATE FUNCTION tutorctl_occupancy_updated() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM lesson_occupancy AS l USING new_lessons AS n\n"
    "  WHERE l.reservation_id = n.id AND n.status NOT IN ('held', 'booked');\n"
    "  WITH changed AS (\n"
    "    SELECT n.* FROM new_lessons AS n JOIN old_lessons AS o ON o.id = n.id\n"
    "    WHERE n.status IN ('held', 'booked') AND (n.status, n.starts_at, n.ends_at,\n"
    "      n.teacher_id, n.student_id) IS DISTINCT FROM\n"
    "      (o.status, o.starts_at, o.ends_at, o.teacher_id, o.student_id)),\n"
    "  gone AS (DELETE FROM lesson_occupancy AS l USING changed AS c\n"
    "    WHERE l.reservation_id = c.id)\n"
    "  INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "  SELECT n.id, p, tutorctl_span(p, n.starts_at, n.ends_at), tutorctl_lineage(n.id)\n"
    "  FROM changed AS n, unnest(ARRAY[n.teacher_id, n.student_id]) AS p;\n"
    "  RETURN NULL;\n"
    "END $$",
    "CREATE TRIGGER reservations_occupancy_inserted AFTER INSERT ON reservations"
    " REFERENCING NEW TABLE AS new_lessons"
    " FOR EACH STATEMENT EXECUTE FUNCTION tutorctl_occupancy_inserted()",
    "CREATE TRIGGER reservations_occupancy_updated AFTER UPDATE ON reservations"
    " REFERENCING OLD TABLE AS old_lessons NEW TABLE AS new_lessons"
    " FOR EACH STATEMENT EXECUTE FUNCTION tutorctl_occupancy_updated()",
)


# Version 7: the backstop exact over every instant SPEC §6 allows (1900–2999). Packing person
# × 10^10 + epoch seconds into one int8range let a person's lesson after 2286 (or before 1970)
# collide with a neighbouring person's: each occupancy row now keeps its person apart
# (``person_id WITH =``, btree_gist) and its time as a tsrange of the lesson's UTC instants.
# The rows keep their person and lineage; their spans are rewritten from their lessons.
PG_BACKSTOP_EXACT = (
    "ALTER TABLE lesson_occupancy DROP CONSTRAINT no_double_booking",
    "ALTER TABLE lesson_occupancy ADD COLUMN during tsrange",
    "UPDATE lesson_occupancy AS l SET during = tsrange(r.starts_at, r.ends_at)"
    " FROM reservations AS r WHERE r.id = l.reservation_id",
    "ALTER TABLE lesson_occupancy DROP COLUMN span",
    "ALTER TABLE lesson_occupancy RENAME COLUMN during TO span",
    "ALTER TABLE lesson_occupancy ALTER COLUMN span SET NOT NULL",
    "CREATE OR REPLACE FUNCTION tutorctl_occupancy_inserted() RETURNS trigger"
    " LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "  SELECT n.id, p, tsrange(n.starts_at, n.ends_at), tutorctl_lineage(n.id)\n"
    "  FROM new_lessons AS n, unnest(ARRAY[n.teacher_id, n.student_id]) AS p\n"
    "  WHERE n.status IN ('held', 'booked');\n"
    "  RETURN NULL;\n"
    "END $$",
    "CREATE OR REPLACE FUNCTION tutorctl_occupancy_updated() RETURNS trigger"
    " LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM lesson_occupancy AS l USING new_lessons AS n\n"
    "  WHERE l.reservation_id = n.id AND n.status NOT IN ('held', 'booked');\n"
    "  WITH changed AS (\n"
    "    SELECT n.* FROM new_lessons AS n JOIN old_lessons AS o ON o.id = n.id\n"
    "    WHERE n.status IN ('held', 'booked') AND (n.status, n.starts_at, n.ends_at,\n"
    "      n.teacher_id, n.student_id) IS DISTINCT FROM\n"
    "      (o.status, o.starts_at, o.ends_at, o.teacher_id, o.student_id)),\n"
    "  gone AS (DELETE FROM lesson_occupancy AS l USING changed AS c\n"
    "    WHERE l.reservation_id = c.id)\n"
    "  INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "  SELECT n.id, p, tsrange(n.starts_at, n.ends_at), tutorctl_lineage(n.id)\n"
    "  FROM changed AS n, unnest(ARRAY[n.teacher_id, n.student_id]) AS p;\n"
    "  RETURN NULL;\n"
    "END $$",
    "DROP FUNCTION IF EXISTS tutorctl_span(integer, timestamp, timestamp)",
    "ALTER TABLE lesson_occupancy ADD CONSTRAINT no_double_booking EXCLUDE USING gist"
    " (person_id WITH =, span WITH &&, lineage WITH <>) DEFERRABLE INITIALLY DEFERRED",
)
