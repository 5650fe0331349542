//! `vault`: files a particle keeps on a peer while it lives.
//!
//! Each particle has its own directory. Services name its files as the reference peer shows
//! them, `/tmp/vault/{particle id}-{token}/{file}`, or relative to that directory; the token is
//! this peer's signature of the particle's signature, in base58, so that nobody can guess the
//! directory of a particle they did not see. On disk the directory is
//! `{root}/{peer id}/{particle id}-{token}`, so that Marine services see the same paths when
//! [`Vault::peer_dir`] is mapped to `/tmp/vault` in their file system. A particle id that is
//! not a plain name (letters, digits, `-`, `_`) is replaced by `~` and its SHA-256 in hex: ids
//! come from the network and must not reach the file system as paths (Marine services do not
//! find the vaults of such particles). The engine removes a particle's directories with
//! [`Vault::remove_particle`] when the particle expires.
//!
//! `cat` reads only inside the calling particle's directory: a path that leaves it (with `..`,
//! another particle's prefix, or a symbolic link) is refused.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::args::{no_such_function, Args};
use crate::identity::KeyPair;
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const SERVICE: &str = "vault";

/// Where services see particle directories.
pub const VIRTUAL_ROOT: &str = "/tmp/vault";

/// Particle ids longer than this are hashed for the file system, whatever their characters.
const MAX_PLAIN_ID: usize = 128;

/// Why a vault operation failed. Paths are shown as the caller gave them.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("path `{path}` is outside this particle's vault `{vault}`")]
    Outside { path: String, vault: String },
    #[error("no file `{path}` in this particle's vault")]
    NotFound { path: String },
    #[error("file `{path}` is not UTF-8 text")]
    NotText { path: String },
    #[error("cannot read `{path}`: {source}")]
    Read { path: String, source: io::Error },
    #[error("cannot write the particle's file: {source}")]
    Write { source: io::Error },
}

/// The particle vaults of one peer, under a root directory. Cloning shares nothing but the
/// paths and the key.
#[derive(Clone)]
pub struct Vault {
    root: PathBuf,
    key_pair: Arc<KeyPair>,
}

impl Vault {
    /// The vaults of the peer of `key_pair`, kept under `root` (made when first needed).
    pub fn new(root: impl Into<PathBuf>, key_pair: Arc<KeyPair>) -> Vault {
        Vault {
            root: root.into(),
            key_pair,
        }
    }

    /// Stores `data` in a new file of the particle's vault and gives the path services see.
    pub fn put(&self, particle: &ParticleParams, data: &str) -> Result<String, VaultError> {
        let name = uuid::Uuid::new_v4().to_string();
        self.create_particle_dir(particle)
            .and_then(|dir| std::fs::write(dir.join(&name), data))
            .map_err(|source| VaultError::Write { source })?;
        Ok(self.virtual_dir(particle).join(name).display().to_string())
    }

    /// The text of a file of the particle's vault, named by the path services see or by a
    /// path relative to the vault.
    pub fn cat(&self, particle: &ParticleParams, path: &str) -> Result<String, VaultError> {
        String::from_utf8(self.read(particle, path)?).map_err(|_| VaultError::NotText {
            path: path.to_owned(),
        })
    }

    /// The bytes of a file of the particle's vault, named as for [`Vault::cat`].
    pub fn read(&self, particle: &ParticleParams, path: &str) -> Result<Vec<u8>, VaultError> {
        let real = self.real_path(particle, path)?;
        std::fs::read(&real).map_err(|source| VaultError::Read {
            path: path.to_owned(),
            source,
        })
    }

    /// Removes the vaults of every particle with this id.
    pub fn remove_particle(&self, particle_id: &str) -> io::Result<()> {
        let entries = match std::fs::read_dir(self.peer_dir()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            other => other?,
        };
        let id = id_dir(particle_id);
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            // Tokens are base58, without `-`: the last `-` ends the id.
            let owner = name.to_str().and_then(|name| name.rsplit_once('-'));
            if owner.is_some_and(|(owner, _)| owner == id) {
                match std::fs::remove_dir_all(entry.path()) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The particle's directory on disk.
    pub fn particle_dir(&self, particle: &ParticleParams) -> PathBuf {
        self.peer_dir()
            .join(format!("{}-{}", id_dir(&particle.id), self.token(particle)))
    }

    /// Makes the particle's directory, for a service that writes into it.
    pub fn create_particle_dir(&self, particle: &ParticleParams) -> io::Result<PathBuf> {
        let dir = self.particle_dir(particle);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// The particle's directory as services see it.
    pub fn virtual_dir(&self, particle: &ParticleParams) -> PathBuf {
        Path::new(VIRTUAL_ROOT).join(format!("{}-{}", particle.id, self.token(particle)))
    }

    /// The directory of this peer's particle vaults, which services see as `/tmp/vault`.
    pub fn peer_dir(&self) -> PathBuf {
        self.root.join(self.key_pair.peer_id().to_base58())
    }

    /// What proves a particle's directory was given by this peer: its signature of the
    /// particle's signature, in base58. Services get it in their call parameters.
    pub fn token(&self, particle: &ParticleParams) -> String {
        bs58::encode(self.key_pair.sign(&particle.signature)).into_string()
    }

    /// The file on disk that `path` names, which must be inside the particle's directory.
    fn real_path(&self, particle: &ParticleParams, path: &str) -> Result<PathBuf, VaultError> {
        let outside = || VaultError::Outside {
            path: path.to_owned(),
            vault: self.virtual_dir(particle).display().to_string(),
        };
        let given = Path::new(path);
        let inner = if given.has_root() {
            given
                .strip_prefix(self.virtual_dir(particle))
                .map_err(|_| outside())?
        } else {
            given
        };
        // `..` is refused outright; symbolic links are caught after resolution below.
        if !inner
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(outside());
        }
        let not_found = || VaultError::NotFound {
            path: path.to_owned(),
        };
        let dir = self
            .particle_dir(particle)
            .canonicalize()
            .map_err(|_| not_found())?;
        let resolved = dir.join(inner).canonicalize().map_err(|_| not_found())?;
        if resolved.starts_with(&dir) {
            Ok(resolved)
        } else {
            Err(outside())
        }
    }
}

/// A particle id as a directory name: itself if it is a plain name, else `~` and its hash.
fn id_dir(id: &str) -> String {
    let plain = !id.is_empty()
        && id.len() <= MAX_PLAIN_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        return id.to_owned();
    }
    let hash = Sha256::digest(id.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("~{hex}")
}

impl Service for Vault {
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
        let mut args = Args::new(SERVICE, &call.function_name, call.arguments);
        let outcome = match call.function_name.as_str() {
            "put" => args.next::<String>("data").and_then(|data| {
                self.put(particle, &data)
                    .map(Value::String)
                    .map_err(|e| args.error(e))
            }),
            "cat" => args.next::<String>("path").and_then(|path| {
                self.cat(particle, &path)
                    .map(Value::String)
                    .map_err(|e| args.error(e))
            }),
            other => return Reply::Ready(no_such_function(SERVICE, other)),
        };
        Reply::Ready(Outcome::from(outcome))
    }
}
