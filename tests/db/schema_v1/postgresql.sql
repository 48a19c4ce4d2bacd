-- The schema version 1 of tutorctl created on PostgreSQL: the DDL statements its `db init` sent
-- (commit 8c7058f, the last at version 1), recorded from the engine; see
-- tests/db/test_upgrade_from_v1.py, which upgrades it.
CREATE TABLE tutorctl_schema (
	version SERIAL NOT NULL, 
	applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (version)
);

CREATE TABLE settings (
	id INTEGER NOT NULL, 
	timezone VARCHAR(64) NOT NULL, 
	slot_minutes INTEGER NOT NULL, 
	currency VARCHAR(8) NOT NULL, 
	hold_minutes INTEGER NOT NULL, 
	payment_minutes INTEGER NOT NULL, 
	cancel_notice_hours INTEGER NOT NULL, 
	min_notice_hours INTEGER NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE users (
	id SERIAL NOT NULL, 
	handle VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	active BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_users_role CHECK (role IN ('teacher', 'student')), 
	UNIQUE (handle)
);

CREATE TABLE categories (
	id SERIAL NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	price_cents INTEGER NOT NULL, 
	active BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_categories_price CHECK (price_cents >= 0), 
	UNIQUE (name)
);

CREATE TABLE idempotency_keys (
	key VARCHAR(200) NOT NULL, 
	request VARCHAR NOT NULL, 
	result VARCHAR NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (key)
);

CREATE TABLE history (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	actor VARCHAR(200) NOT NULL, 
	command VARCHAR(64) NOT NULL, 
	subject VARCHAR(200) NOT NULL, 
	user_ids VARCHAR(2000) NOT NULL, 
	session_id INTEGER, 
	details VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_history_session ON history (session_id);

CREATE INDEX ix_history_at ON history (at);

CREATE TABLE calendar_weeks (
	id SERIAL NOT NULL, 
	user_id INTEGER NOT NULL, 
	week DATE NOT NULL, 
	d0 VARCHAR NOT NULL, 
	d1 VARCHAR NOT NULL, 
	d2 VARCHAR NOT NULL, 
	d3 VARCHAR NOT NULL, 
	d4 VARCHAR NOT NULL, 
	d5 VARCHAR NOT NULL, 
	d6 VARCHAR NOT NULL, 
	stamp INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_calendar_weeks_user_week UNIQUE (user_id, week), 
	FOREIGN KEY(user_id) REFERENCES users (id)
);

CREATE TABLE booking_sessions (
	id SERIAL NOT NULL, 
	student_id INTEGER NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	touched_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	payment_started_at TIMESTAMP WITHOUT TIME ZONE, 
	closed_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	FOREIGN KEY(student_id) REFERENCES users (id)
);

CREATE UNIQUE INDEX uq_booking_sessions_one_open ON booking_sessions (student_id) WHERE status = 'open';

CREATE INDEX ix_booking_sessions_student ON booking_sessions (student_id, status);

CREATE INDEX ix_booking_sessions_status_touched ON booking_sessions (status, touched_at);

CREATE TABLE accounts (
	id SERIAL NOT NULL, 
	student_id INTEGER NOT NULL, 
	balance_cents INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_accounts_balance CHECK (balance_cents >= 0), 
	UNIQUE (student_id), 
	FOREIGN KEY(student_id) REFERENCES users (id)
);

CREATE TABLE purchases (
	id SERIAL NOT NULL, 
	student_id INTEGER NOT NULL, 
	teacher_id INTEGER NOT NULL, 
	category_id INTEGER NOT NULL, 
	bought_minutes INTEGER NOT NULL, 
	paid_minutes INTEGER NOT NULL, 
	consumed_minutes INTEGER NOT NULL, 
	price_cents INTEGER NOT NULL, 
	purchased_on DATE NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_purchases_consumed CHECK (consumed_minutes >= 0 AND consumed_minutes <= bought_minutes), 
	CONSTRAINT ck_purchases_paid CHECK (paid_minutes >= 0 AND paid_minutes <= bought_minutes), 
	FOREIGN KEY(student_id) REFERENCES users (id), 
	FOREIGN KEY(teacher_id) REFERENCES users (id), 
	FOREIGN KEY(category_id) REFERENCES categories (id)
);

CREATE INDEX ix_purchases_match ON purchases (student_id, teacher_id, category_id, id);

CREATE TABLE reservations (
	id SERIAL NOT NULL, 
	teacher_id INTEGER NOT NULL, 
	student_id INTEGER NOT NULL, 
	category_id INTEGER NOT NULL, 
	week DATE NOT NULL, 
	day INTEGER NOT NULL, 
	start_slot INTEGER NOT NULL, 
	end_slot INTEGER NOT NULL, 
	starts_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	ends_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	price_cents INTEGER NOT NULL, 
	session_id INTEGER, 
	unfunded BOOLEAN NOT NULL, 
	late_cancel BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_reservations_slots CHECK (start_slot < end_slot), 
	CONSTRAINT ck_reservations_day CHECK (day BETWEEN 0 AND 6), 
	FOREIGN KEY(teacher_id) REFERENCES users (id), 
	FOREIGN KEY(student_id) REFERENCES users (id), 
	FOREIGN KEY(category_id) REFERENCES categories (id), 
	FOREIGN KEY(session_id) REFERENCES booking_sessions (id)
);

CREATE INDEX ix_reservations_teacher_week ON reservations (teacher_id, week, day);

CREATE INDEX ix_reservations_status_ends ON reservations (status, ends_at);

CREATE INDEX ix_reservations_student_week ON reservations (student_id, week, day);

CREATE INDEX ix_reservations_session ON reservations (session_id);

CREATE TABLE payments (
	id SERIAL NOT NULL, 
	session_id INTEGER NOT NULL, 
	method VARCHAR(16) NOT NULL, 
	amount_cents INTEGER NOT NULL, 
	reference VARCHAR(200), 
	status VARCHAR(16) NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	settled_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	FOREIGN KEY(session_id) REFERENCES booking_sessions (id)
);

CREATE INDEX ix_payments_session ON payments (session_id, status);

CREATE TABLE operations (
	id SERIAL NOT NULL, 
	session_id INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	target_id INTEGER, 
	new_id INTEGER, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(session_id) REFERENCES booking_sessions (id), 
	FOREIGN KEY(target_id) REFERENCES reservations (id), 
	FOREIGN KEY(new_id) REFERENCES reservations (id)
);

CREATE INDEX ix_operations_session ON operations (session_id);

CREATE INDEX ix_operations_target ON operations (target_id, status);

CREATE TABLE ledger (
	id SERIAL NOT NULL, 
	account_id INTEGER NOT NULL, 
	amount_cents INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	reason VARCHAR(200) NOT NULL, 
	session_id INTEGER, 
	reservation_id INTEGER, 
	payment_id INTEGER, 
	actor VARCHAR(200) NOT NULL, 
	at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(account_id) REFERENCES accounts (id), 
	FOREIGN KEY(session_id) REFERENCES booking_sessions (id), 
	FOREIGN KEY(reservation_id) REFERENCES reservations (id), 
	FOREIGN KEY(payment_id) REFERENCES payments (id)
);

CREATE INDEX ix_ledger_reservation ON ledger (reservation_id);

CREATE INDEX ix_ledger_account ON ledger (account_id, id);

CREATE TABLE fundings (
	id SERIAL NOT NULL, 
	reservation_id INTEGER NOT NULL, 
	source VARCHAR(16) NOT NULL, 
	purchase_id INTEGER, 
	payment_id INTEGER, 
	minutes INTEGER NOT NULL, 
	amount_cents INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_fundings_source CHECK (source IN ('purchase', 'balance', 'payment')), 
	FOREIGN KEY(reservation_id) REFERENCES reservations (id), 
	FOREIGN KEY(purchase_id) REFERENCES purchases (id), 
	FOREIGN KEY(payment_id) REFERENCES payments (id)
);

CREATE INDEX ix_fundings_reservation ON fundings (reservation_id);

CREATE INDEX ix_fundings_purchase ON fundings (purchase_id);
