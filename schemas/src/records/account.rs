//! Account facts derived on the host because the raw file must not travel: from `/etc/shadow` (and its
//! `-` backup) only whether each account can log in with a password and when that password last changed.
//! Password hashes never leave the host.

use serde::{Deserialize, Serialize};

use crate::RawBytes;

/// What the password field of a shadow line allows, without saying what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PasswordState {
    /// A crypt hash: the account can log in with a password.
    Usable,
    /// An empty field: depending on PAM (`nullok`), login without any password.
    Empty,
    /// A hash behind `!` (`usermod -L`): kept but refused until unlocked.
    Locked,
    /// `*`, `!!`, `!` alone or anything that is not a hash: no password login.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowEntry {
    /// The file the line came from (`/etc/shadow`, `/etc/shadow-`).
    pub source: RawBytes,
    /// 1-based line number.
    pub line: u32,
    pub user: RawBytes,
    pub password: PasswordState,
    /// Days since 1970-01-01 of the last password change (field 3); `Some(0)` forces a change at next login.
    pub last_change_days: Option<i64>,
    /// Days since 1970-01-01 after which the account expires (field 8).
    pub expire_days: Option<i64>,
}
