//! `rpmdb.sqlite` (rpm ≥ 4.16: EL9, Amazon Linux 2023, Fedora ≥ 33): table `Packages (hnum INTEGER
//! PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)`, one header blob per row. rpm keeps the database in
//! WAL mode, so a committed transaction may live only in `rpmdb.sqlite-wal` until the next checkpoint:
//! the log is read on top of the main file (`quantydb-sqlite`, a pure-Rust read-only reader: the host
//! file is never opened for writing, and no SQLite C library is linked into the static collector).

use quantydb_sqlite::{Reader, Source, SqliteError, SqliteValue, WalSource};

use super::{BlobSink, ReadAt};

/// The host file behind quantydb's page reads.
pub struct HostSource<'a, R: ReadAt + ?Sized>(pub &'a R);

impl<R: ReadAt + ?Sized> Source for HostSource<'_, R> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> quantydb_sqlite::Result<()> {
        self.0.read_exact_at(offset, buf).map_err(SqliteError::Io)
    }

    fn len(&self) -> quantydb_sqlite::Result<u64> {
        Ok(self.0.size())
    }
}

/// Reads every package blob of a database (`db`) and its log (`wal`, when there is one) into `sink`.
/// Returns how many rows came from a log page (informational: rows that a reader ignoring the log
/// would have missed cannot be told apart row by row).
pub fn read<R: ReadAt + ?Sized, L: ReadAt + ?Sized>(
    db: &R,
    wal: Option<&L>,
    sink: &mut BlobSink<'_>,
) -> Result<bool, String> {
    let source =
        WalSource::new(HostSource(db), wal.map(HostSource)).map_err(|e| format!("sqlite: {e}"))?;
    let from_log = source.has_log();
    let reader = Reader::open(source).map_err(|e| format!("sqlite: {e}"))?;
    let schema = reader.schema().map_err(|e| format!("sqlite schema: {e}"))?;
    let root = schema
        .objects()
        .iter()
        .find(|o| o.kind == quantydb_sqlite::ObjectKind::Table && o.name == "Packages")
        .and_then(|o| o.root_page)
        .ok_or_else(|| "sqlite: no Packages table".to_string())?;
    let rows = reader
        .rows(root)
        .map_err(|e| format!("sqlite Packages table: {e}"))?;
    for row in rows {
        let row = row.map_err(|e| format!("sqlite Packages row: {e}"))?;
        let blob = row.values.iter().find_map(|v| match v {
            SqliteValue::Blob(b) => Some(b.as_slice()),
            _ => None,
        });
        let Some(blob) = blob else {
            sink.error(format!(
                "sqlite Packages row {}: no blob column",
                row.rowid.unwrap_or(-1)
            ));
            continue;
        };
        if !sink.blob(blob) {
            break;
        }
    }
    Ok(from_log)
}

/// Byte-slice entry point (fuzzing, fixtures): the database file and its `-wal` file.
pub fn read_bytes(db: &[u8], wal: Option<&[u8]>, sink: &mut BlobSink<'_>) -> Result<bool, String> {
    read(db, wal, sink)
}
