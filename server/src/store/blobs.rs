//! The blob store: the bytes of the files messages carry, content-addressed.
//!
//! Owns: where blobs live (a local directory, or S3-compatible object storage, both through
//! `object_store`), their names (`sha256/ab/cd/<digest>`: the SHA-256 of the bytes, so the same
//! file sent a thousand times is kept once and a name never points at other bytes), and the
//! check on every read that the bytes still have their digest (a torn or damaged file is reported
//! as missing, never served). Must not: know tenants, messages or retention; which blobs are still
//! named is the `MediaStore`'s business.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no blob {0}")]
    Missing(String),
    #[error("the blob store is unavailable: {0}")]
    Unavailable(String),
    #[error("the blob store is not set up: {0}")]
    Config(String),
}

/// Where S3-compatible storage is, for [`Blobs::s3`].
pub struct S3Target<'a> {
    pub bucket: &'a str,
    pub endpoint: Option<&'a str>,
    pub region: &'a str,
    pub access_key_id: &'a Secret,
    pub secret_access_key: &'a Secret,
    pub allow_http: bool,
}

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for logs and errors ("directory /var/lib/…", "s3://bucket").
    place: String,
    /// The directory of a local store: its writes are synced to disk before `put` returns
    /// (`object_store` writes a temporary file and renames it, without `fsync`).
    local: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs").field("place", &self.place).finish()
    }
}

/// The SHA-256 of some bytes, in hex: a blob's name.
pub fn digest_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn location(digest: &str) -> Result<ObjectPath, BlobError> {
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BlobError::Missing(digest.to_owned()));
    }
    Ok(ObjectPath::from(format!(
        "sha256/{}/{}/{digest}",
        &digest[..2],
        &digest[2..4]
    )))
}

fn unavailable(e: object_store::Error) -> BlobError {
    BlobError::Unavailable(e.to_string())
}

/// Syncs the file `name` under `root` and its directory; with `up`, every directory from there
/// up to `root` as well.
fn sync_written(root: &Path, name: &str, up: bool) -> std::io::Result<()> {
    let file = root.join(name);
    std::fs::File::open(&file)?.sync_all()?;
    let mut dir = file.parent();
    while let Some(d) = dir.filter(|d| d.starts_with(root)) {
        std::fs::File::open(d)?.sync_all()?;
        if !up {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

impl Blobs {
    /// A local directory, made if missing.
    pub fn local(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BlobError::Config(format!("{}: {e}", dir.display())))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| BlobError::Config(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            store: Arc::new(store),
            place: format!("directory {}", dir.display()),
            local: Some(dir.to_owned()),
        })
    }

    /// S3-compatible object storage. Nothing is contacted until the first blob.
    pub fn s3(target: &S3Target<'_>) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(target.bucket)
            .with_region(target.region)
            .with_access_key_id(target.access_key_id.expose())
            .with_secret_access_key(target.secret_access_key.expose())
            .with_allow_http(target.allow_http);
        if let Some(endpoint) = target.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let store = builder
            .build()
            .map_err(|e| BlobError::Config(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            place: format!("s3://{}", target.bucket),
            local: None,
        })
    }

    pub fn place(&self) -> &str {
        &self.place
    }

    /// Keeps the bytes; their digest. A blob already there whole is not written again (one
    /// that is there but damaged is).
    pub async fn put(&self, bytes: Bytes) -> Result<String, BlobError> {
        let digest = digest_of(&bytes);
        let at = location(&digest)?;
        match self.get(&digest).await {
            Ok(_) => return Ok(digest),
            Err(BlobError::Missing(_)) => {}
            Err(e) => return Err(e),
        }
        // Whether the blob's directory is new: then the directories above it changed too.
        let new_dir = self.local.as_ref().is_some_and(|dir| {
            !dir.join(at.to_string())
                .parent()
                .is_some_and(|parent| parent.is_dir())
        });
        self.store
            .put(&at, PutPayload::from(bytes))
            .await
            .map_err(unavailable)?;
        if let Some(dir) = &self.local {
            // The file, then the directory its name was linked into (and those above when it
            // was made): after a crash a blob the caller was told of is on disk whole.
            let (dir, name) = (dir.clone(), at.to_string());
            tokio::task::spawn_blocking(move || {
                sync_written(&dir, &name, new_dir).map_err(|e| format!("syncing {name}: {e}"))
            })
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?
            .map_err(BlobError::Unavailable)?;
        }
        Ok(digest)
    }

    /// The bytes named `digest`, checked against it.
    pub async fn get(&self, digest: &str) -> Result<Bytes, BlobError> {
        let at = location(digest)?;
        let bytes = match self.store.get(&at).await {
            Ok(found) => found.bytes().await.map_err(unavailable)?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::Missing(digest.to_owned()))
            }
            Err(e) => return Err(unavailable(e)),
        };
        if digest_of(&bytes) != digest {
            return Err(BlobError::Missing(format!("{digest} (damaged)")));
        }
        Ok(bytes)
    }

    /// Deletes a blob; deleting one that is not there is not an error.
    pub async fn delete(&self, digest: &str) -> Result<(), BlobError> {
        match self.store.delete(&location(digest)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_are_named_by_their_bytes_kept_once_and_checked_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(&dir.path().join("media")).unwrap();
        let a = blobs.put(Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(a, digest_of(b"hello"));
        assert_eq!(blobs.put(Bytes::from_static(b"hello")).await.unwrap(), a);
        assert_eq!(blobs.get(&a).await.unwrap(), Bytes::from_static(b"hello"));
        // A damaged file is not served as the blob.
        let file = dir
            .path()
            .join("media/sha256")
            .join(&a[..2])
            .join(&a[2..4])
            .join(&a);
        std::fs::write(&file, b"jello").unwrap();
        assert!(matches!(blobs.get(&a).await, Err(BlobError::Missing(_))));
        // Written again whole when it is kept again.
        blobs.put(Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(blobs.get(&a).await.unwrap(), Bytes::from_static(b"hello"));
        blobs.delete(&a).await.unwrap();
        blobs.delete(&a).await.unwrap();
        assert!(matches!(blobs.get(&a).await, Err(BlobError::Missing(_))));
        assert!(matches!(
            blobs.get("../../etc/passwd").await,
            Err(BlobError::Missing(_))
        ));
    }

    #[tokio::test]
    async fn an_unwritable_place_is_an_error_not_a_loss() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        // A file where the blobs' folder must be: every write fails until it is gone.
        std::fs::write(dir.path().join("sha256"), b"in the way").unwrap();
        assert!(matches!(
            blobs.put(Bytes::from_static(b"x")).await,
            Err(BlobError::Unavailable(_))
        ));
        std::fs::remove_file(dir.path().join("sha256")).unwrap();
        let d = blobs.put(Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(blobs.get(&d).await.unwrap(), Bytes::from_static(b"x"));
    }
}
