//! A commit's writes as few round trips to SQLite as possible: rows bound
//! as parameters of `VALUES` lists, several statements sent as one.
//!
//! Every statement sqlx runs is a round trip to the connection's worker
//! thread, and on the 2-core machine a round trip costs about 60 µs even
//! for `SELECT 1` (two thread wake-ups; measured inside a commit of the
//! storage bench): a commit of one 100-sample frame used about twenty, more
//! than its rows cost SQLite. So a [`Statements`] gathers several
//! statements into one text, sent and run as one command (sqlx binds the
//! parameters of each statement in turn), and each statement takes its
//! rows as one `VALUES` list of bound parameters.
//!
//! The lists come in a few fixed lengths ([`SHAPES`]), padded with rows of
//! `NULL`s that the statement's `WHERE column1 IS NOT NULL` drops, so any
//! number of rows up to the largest takes one statement and a handful of
//! statement texts (each prepared once and cached by the connection) serve
//! every count. Rows whose order matters carry their number in the batch as
//! their first column (`ORDER BY column1`).
//!
//! Alarms, their history, outbox events and plugin states used to cross as
//! one JSON array read with `json_each`, each field taken with
//! `n.value ->> 'field'`; SQLite renders the row's object back to text for
//! every access to `n.value` and parses it again for `->>`, a cost per field
//! of every row (a fifth of those statements' time).

use nexus_storage::Result;
use sqlx::Row;

use crate::db;

/// A statement being bound.
pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Lengths of the `VALUES` list: a batch of rows takes the shortest that
/// holds it, and batches longer than the last take several of it. At an
/// alarm's 17 parameters a row the last is 17 408, under SQLite's 32 766.
pub(crate) const SHAPES: [usize; 4] = [16, 64, 256, LARGEST];
/// The longest list.
pub(crate) const LARGEST: usize = 1024;

/// A statement over a `VALUES` list of `rows` rows of `width` parameters:
/// `{head}(VALUES (?, …), …){tail}`. The head ends where the list goes, as
/// in `INSERT INTO t (a, b) SELECT column2, column3 FROM `, and the tail
/// drops the padding, as in ` WHERE column1 IS NOT NULL`. It ends with `;`.
pub(crate) fn statement(sql: &mut String, head: &str, width: usize, rows: usize, tail: &str) {
    sql.reserve(head.len() + tail.len() + 12 + rows * (width * 3 + 2));
    sql.push_str(head);
    sql.push_str("(VALUES ");
    for i in 0..rows {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..width {
            sql.push_str(if j == 0 { "?" } else { ", ?" });
        }
        sql.push(')');
    }
    sql.push(')');
    sql.push_str(tail);
    sql.push_str(";\n");
}

/// The batches `len` rows are written in: `(first row, rows, list length)`,
/// each list as short as [`SHAPES`] allows.
fn batches(len: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..len).step_by(LARGEST).map(move |first| {
        let rows = (len - first).min(LARGEST);
        let shape = SHAPES.into_iter().find(|&s| s >= rows).unwrap_or(LARGEST);
        (first, rows, shape)
    })
}

/// Binds one statement's parameters.
type Binder<'q> = Box<dyn FnOnce(Query<'q>) -> Query<'q> + Send + 'q>;

/// Statements sent to SQLite as one command: their text, and their
/// parameters bound in order.
#[derive(Default)]
pub(crate) struct Statements<'q> {
    sql: String,
    binders: Vec<Binder<'q>>,
}

impl<'q> Statements<'q> {
    /// Adds the statements that write `rows` as `(head, tail)` around
    /// `VALUES` lists of `width` parameters; `bind` binds row `n` of `rows`.
    /// No rows, no statement.
    pub(crate) fn rows<T: Sync>(
        &mut self,
        (head, tail): (&str, &str),
        width: usize,
        rows: &'q [T],
        bind: impl Fn(Query<'q>, usize, &'q T) -> Query<'q> + Copy + Send + 'q,
    ) {
        for (first, count, shape) in batches(rows.len()) {
            statement(&mut self.sql, head, width, shape, tail);
            self.binders.push(Box::new(move |mut query: Query<'q>| {
                for (i, row) in rows[first..first + count].iter().enumerate() {
                    query = bind(query, first + i, row);
                }
                for _ in 0..width * (shape - count) {
                    query = query.bind(None::<i64>);
                }
                query
            }));
        }
    }

    /// Adds one statement (`sql` without its `;`) and what binds its parameters.
    pub(crate) fn push(&mut self, sql: &str, bind: impl FnOnce(Query<'q>) -> Query<'q> + Send + 'q) {
        self.sql.push_str(sql);
        self.sql.push_str(";\n");
        self.binders.push(Box::new(bind));
    }

    /// Whether there is nothing to send.
    pub(crate) fn is_empty(&self) -> bool {
        self.binders.is_empty()
    }

    fn query(self) -> Query<'q> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(self.sql));
        for bind in self.binders {
            query = bind(query);
        }
        query
    }

    /// Runs the statements in one round trip.
    pub(crate) async fn execute(self, tx: &mut sqlx::SqliteConnection) -> Result<()> {
        if !self.is_empty() {
            self.query().execute(&mut *tx).await.map_err(db)?;
        }
        Ok(())
    }

    /// Runs the statements in one round trip and returns the rows they
    /// return.
    pub(crate) async fn fetch_all(self, tx: &mut sqlx::SqliteConnection) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        self.query().fetch_all(&mut *tx).await.map_err(db)
    }

    /// Runs the statements in one round trip and returns the first column
    /// of every row they return (`RETURNING`), as integers.
    pub(crate) async fn returning(self, tx: &mut sqlx::SqliteConnection) -> Result<Vec<i64>> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.query().fetch_all(&mut *tx).await.map_err(db)?;
        rows.iter().map(|row| row.try_get(0).map_err(db)).collect()
    }
}
