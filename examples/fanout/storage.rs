//! The object store the thumbnail workflow reads originals from and writes thumbnails to,
//! simulated in this process's memory.
//!
//! Originals are uploaded with [`Storage::upload`]; a key that was never uploaded is not
//! found, and an original whose bytes are not an image has no [`Size`]. A key marked with
//! [`Storage::time_out_next_gets`] makes that many reads time out first, as a store under load
//! does. The store counts the writes of each thumbnail, so tests can check that finished work
//! is not done again.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// The pixel size of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

/// What a read of an original returns: its length and, when its bytes decode as an image,
/// its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Original {
    pub bytes: u64,
    /// `None`: the bytes are not an image the decoder reads.
    pub size: Option<Size>,
}

impl Original {
    /// A photo of `width` × `height` pixels (about two bytes a pixel, compressed).
    pub fn photo(width: u32, height: u32) -> Self {
        Original {
            bytes: u64::from(width) * u64::from(height) / 2,
            size: Some(Size { width, height }),
        }
    }

    /// A file that is not an image (a truncated upload, say).
    pub fn unreadable(bytes: u64) -> Self {
        Original { bytes, size: None }
    }
}

/// The store did not answer a read in time; the read may be repeated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the object store did not answer the read of {key} in time")]
pub struct StorageTimeout {
    pub key: String,
}

/// Why a read failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// No object under the key: repeating the read will not help.
    #[error("no object {0}")]
    NotFound(String),
    /// Repeat the read.
    #[error(transparent)]
    Timeout(#[from] StorageTimeout),
}

/// The simulated object store.
pub struct Storage {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    originals: HashMap<String, Original>,
    timeouts: HashMap<String, u32>,
    reads: HashMap<String, u32>,
    thumbnails: HashMap<String, Size>,
    thumbnail_writes: HashMap<String, u32>,
    manifests: HashMap<String, Vec<String>>,
    next_version: u64,
}

/// The store of this process.
pub fn storage() -> &'static Storage {
    static STORAGE: OnceLock<Storage> = OnceLock::new();
    STORAGE.get_or_init(|| Storage {
        inner: Mutex::new(Inner::default()),
    })
}

impl Storage {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain maps updated in single statements: still usable after a panic elsewhere.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores an original under `key`.
    pub fn upload(&self, key: &str, original: Original) {
        self.lock().originals.insert(key.to_string(), original);
    }

    /// Makes the next `n` reads of `key` time out.
    pub fn time_out_next_gets(&self, key: &str, n: u32) {
        self.lock().timeouts.insert(key.to_string(), n);
    }

    /// Reads the original under `key`.
    pub fn get(&self, key: &str) -> Result<Original, ReadError> {
        let mut inner = self.lock();
        *inner.reads.entry(key.to_string()).or_default() += 1;
        if let Some(left) = inner.timeouts.get_mut(key)
            && *left > 0
        {
            *left -= 1;
            return Err(StorageTimeout { key: key.into() }.into());
        }
        inner
            .originals
            .get(key)
            .cloned()
            .ok_or_else(|| ReadError::NotFound(key.into()))
    }

    /// Writes a thumbnail of `size` under `key` (replacing any); returns the new version.
    pub fn put_thumbnail(&self, key: &str, size: Size) -> u64 {
        let mut inner = self.lock();
        inner.thumbnails.insert(key.to_string(), size);
        *inner.thumbnail_writes.entry(key.to_string()).or_default() += 1;
        inner.next_version += 1;
        inner.next_version
    }

    /// Deletes the thumbnail under `key`; deleting one that is not there is not an error.
    pub fn delete_thumbnail(&self, key: &str) {
        self.lock().thumbnails.remove(key);
    }

    /// Writes the manifest of an album: the keys of its thumbnails, in order. Returns the
    /// manifest's key.
    pub fn put_manifest(&self, album: &str, thumbnails: Vec<String>) -> String {
        let key = format!("manifests/{album}.json");
        self.lock().manifests.insert(key.clone(), thumbnails);
        key
    }

    /// The thumbnail under `key`, if there is one.
    pub fn thumbnail(&self, key: &str) -> Option<Size> {
        self.lock().thumbnails.get(key).copied()
    }

    /// How often the thumbnail under `key` was written.
    pub fn thumbnail_writes(&self, key: &str) -> u32 {
        self.lock().thumbnail_writes.get(key).copied().unwrap_or(0)
    }

    /// How often `key` was read (timeouts included).
    pub fn reads(&self, key: &str) -> u32 {
        self.lock().reads.get(key).copied().unwrap_or(0)
    }

    /// The manifest under `key`, if there is one.
    pub fn manifest(&self, key: &str) -> Option<Vec<String>> {
        self.lock().manifests.get(key).cloned()
    }
}
