//! Reading a fixed sample of a site's users instead of all of them, for figures that
//! would otherwise scan every passkey (the fake options' shapes, the admin statistics):
//! the users whose id lies in a range around an anchor. User ids are random (v4 UUIDs
//! rp-server draws, never chosen by a client), so the range is a random sample nobody can
//! place an account in; a fixed anchor reads the same users every time (decision 0023).

use sqlx::PgConnection;
use uuid::Uuid;

/// A transaction for sampled reads: its statements may take `statement_timeout_ms`
/// (not the requests' timeout: a read off the request path, or one bounded by its
/// sample), and Postgres does not JIT-compile them (compiling costs more than it saves on
/// a sample; Postgres compiles above a cost the larger samples reach).
pub async fn begin(
    db: &super::Db,
    statement_timeout_ms: u32,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = db.begin().await?;
    sqlx::query(&format!(
        "SET LOCAL statement_timeout = {statement_timeout_ms}"
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    Ok(tx)
}

/// What a sampled read covered: how many users, from the ids whose leading `bits` bits
/// are the anchor's (0: every user of the site, an exact read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampled {
    pub users: u64,
    pub bits: u32,
}

impl Sampled {
    /// How many of the site's users each read one stands for (1 when all were read).
    pub fn scale(&self) -> f64 {
        2f64.powi(self.bits.min(64) as i32)
    }
}

/// The ids whose leading `bits` bits are `anchor`'s, first and last (all ids for 0).
pub fn id_range(anchor: Uuid, bits: u32) -> (Uuid, Uuid) {
    let low_bits = 128 - bits.min(128);
    let below = if low_bits == 128 {
        u128::MAX
    } else {
        (1u128 << low_bits) - 1
    };
    let first = anchor.as_u128() & !below;
    (Uuid::from_u128(first), Uuid::from_u128(first | below))
}

/// The narrowest range around an anchor that holds about `wanted` users of the site: it
/// starts as narrow as the credentials table's size (Postgres's estimate, all sites)
/// allows and widens fourfold until a read of it saw a quarter of `wanted` users, or it is
/// every id — so a small site is read whole and exactly. Each step reads a quarter of the
/// next one's rows. Reads of a range should not be prepared (`persistent(false)`), so each
/// is planned for its range: a narrow range of a large site reads an index on user ids; a
/// small site, whole, its own rows by an index that leads with the site.
///
/// ```ignore
/// let mut range = Widening::start(&mut tx, anchor, wanted).await?;
/// let rows = loop {
///     let (first, last) = range.ids();
///     let rows = /* read the users from first to last */;
///     if range.enough(rows.len() as u64) { break rows; }
/// };
/// ```
#[derive(Debug)]
pub struct Widening {
    anchor: Uuid,
    wanted: u64,
    read: Sampled,
}

impl Widening {
    pub async fn start(conn: &mut PgConnection, anchor: Uuid, wanted: u64) -> sqlx::Result<Self> {
        // Never analysed: -1 (Postgres 14 and later), read as "small".
        let estimate: f64 = sqlx::query_scalar(
            "SELECT reltuples::float8 FROM pg_class WHERE oid = 'credentials'::regclass",
        )
        .fetch_one(conn)
        .await?;
        let wanted = wanted.max(1);
        let bits = if estimate > wanted as f64 {
            (estimate / wanted as f64).log2().floor() as u32
        } else {
            0
        };
        Ok(Self {
            anchor,
            wanted,
            read: Sampled {
                users: 0,
                bits: bits.min(64),
            },
        })
    }

    /// The range to read now, first and last id.
    pub fn ids(&self) -> (Uuid, Uuid) {
        id_range(self.anchor, self.read.bits)
    }

    /// Whether reading the range found enough users (`users` of the site): if not, the
    /// range is widened for another read.
    pub fn enough(&mut self, users: u64) -> bool {
        self.read.users = users;
        if self.read.bits == 0 || users.saturating_mul(4) >= self.wanted {
            return true;
        }
        self.read.bits = self.read.bits.saturating_sub(2);
        false
    }

    /// What the last read covered.
    pub fn sampled(&self) -> Sampled {
        self.read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_keep_the_anchors_leading_bits() {
        let anchor = Uuid::from_u128(0xabcd_ef01_2345_6789_abcd_ef01_2345_6789);
        assert_eq!(id_range(anchor, 0), (Uuid::nil(), Uuid::max()));
        assert_eq!(id_range(anchor, 128), (anchor, anchor));
        assert_eq!(
            id_range(anchor, 8),
            (
                Uuid::from_u128(0xab00_0000_0000_0000_0000_0000_0000_0000),
                Uuid::from_u128(0xabff_ffff_ffff_ffff_ffff_ffff_ffff_ffff)
            )
        );
        assert_eq!(Sampled { users: 1, bits: 0 }.scale(), 1.0);
        assert_eq!(Sampled { users: 1, bits: 6 }.scale(), 64.0);
    }
}
