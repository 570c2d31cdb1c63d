//! Thumbnails for an uploaded photo album: a parent workflow plans one job per photo, fans
//! them out to a child machine with `ctx.map` (four at a time, a number of failures
//! tolerated), and gathers the thumbnails made and the photos that failed into a report. When
//! more photos fail than tolerated, the thumbnails already made are deleted and the execution
//! fails, so an album is published whole or not at all.
//!
//! Each photo is a child machine of its own: read the original (a step, retried when the
//! object store times out), resize it, write the thumbnail. A photo that is missing or is not
//! an image fails its child; the others carry on.

use crate::storage::{Original, ReadError, Size, storage};
use durable_fsm::machine::ops::StepConfig;
use durable_fsm::machine::ops::{
    BatchConfig, BatchItem, BatchResult, CompletionReason, ItemStatus,
};
use durable_fsm::machine::{Graph, RetryStrategy, StepError, Terminal};
use durable_fsm::model::ErrorObject;
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How many photos are processed at once.
pub const MAX_CONCURRENCY: usize = 4;
/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;
/// The most photos one album may have. With it and [`MAX_KEY_BYTES`], every state (the
/// `Aggregate` state holds every photo's job and outcome) and the map's recorded result stay
/// well under the 256 KiB a checkpointed payload may have.
pub const MAX_PHOTOS: usize = 200;
/// The longest key of a photo, in bytes.
pub const MAX_KEY_BYTES: usize = 200;

/// The execution input: an album whose originals were uploaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlbumUpload {
    pub album: String,
    /// The keys of the originals, in album order.
    pub photos: Vec<String>,
    /// How many photos may fail with the album still published.
    #[serde(default)]
    pub tolerated_failures: usize,
}

/// One photo's job: the input of the child machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhotoJob {
    /// The original's key.
    pub photo: String,
    /// Where its thumbnail goes.
    pub thumbnail: String,
}

/// A thumbnail made: the output of the child machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thumb {
    pub photo: String,
    pub key: String,
    pub size: Size,
    /// The object store's version of the write.
    pub version: u64,
}

/// A photo that failed, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedPhoto {
    pub photo: String,
    pub error_type: String,
    pub message: String,
}

/// The execution result (and, when too many photos failed, what the error describes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlbumReport {
    pub album: String,
    /// How many photos the album has (duplicates counted once).
    pub photos: usize,
    /// How many photos may fail with the album still published.
    pub tolerated_failures: usize,
    /// Why the fan-out completed.
    pub completion: CompletionReason,
    /// The thumbnails made, in album order.
    pub thumbnails: Vec<Thumb>,
    /// The photos that failed, in album order.
    pub failed: Vec<FailedPhoto>,
    /// Photos not finished when the fan-out completed (it stops early when too many fail).
    pub not_processed: Vec<String>,
    /// The published manifest's key.
    pub manifest: Option<String>,
}

// ---- the child machine: one photo ---------------------------------------------------------

/// One photo: read the original, resize it, write the thumbnail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Thumbnail {
    Fetch(PhotoJob),
    Resize { job: PhotoJob, original: Original },
    Upload { job: PhotoJob, size: Size },
}

/// Reads time out under load: three attempts, one and two seconds apart.
fn read_retry() -> RetryStrategy {
    RetryStrategy::new(3)
        .initial_delay(Duration::from_secs(1))
        .max_delay(Duration::from_secs(2))
        .retry_if_type("StorageTimeout")
}

/// The size of the thumbnail of an image of `size`: the longest side at most
/// [`THUMBNAIL_SIDE`], the aspect ratio kept, never enlarged.
pub fn thumbnail_size(size: Size) -> Size {
    let longest = size.width.max(size.height);
    if longest <= THUMBNAIL_SIDE {
        return size;
    }
    let scale = |side: u32| {
        let scaled = u64::from(side) * u64::from(THUMBNAIL_SIDE) / u64::from(longest);
        u32::try_from(scaled).unwrap_or(THUMBNAIL_SIDE).max(1)
    };
    Size {
        width: scale(size.width),
        height: scale(size.height),
    }
}

impl Transition for Thumbnail {
    type Input = PhotoJob;
    type Output = Thumb;

    fn start(job: PhotoJob) -> Self {
        Thumbnail::Fetch(job)
    }

    fn graph() -> Option<Graph> {
        Some(
            Graph::new("Fetch")
                .edge("Fetch", "Resize")
                // Missing, or the store kept timing out.
                .fail("Fetch")
                .edge("Resize", "Upload")
                // Not an image.
                .fail("Resize")
                .done("Upload"),
        )
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Thumbnail::Fetch(job) => {
                // A step: its attempts are recorded, a timed-out read is retried after a
                // durable delay (the photo's child waits, the others go on), and once read
                // the original is not read again.
                let key = job.photo.clone();
                let config = StepConfig::new().retry(read_retry());
                let read = ctx
                    .step_with("read-original", config, |_| async move {
                        storage().get(&key).map_err(|e| match e {
                            ReadError::NotFound(key) => TransitionError::from(Terminal::new(
                                "PhotoNotFound",
                                format!("no original {key} in the object store"),
                            )),
                            ReadError::Timeout(timeout) => TransitionError::from(timeout),
                        })
                    })
                    .await;
                match read {
                    Ok(original) => Next::to(Thumbnail::Resize { job, original }),
                    // Not found, or still timing out after the last attempt: the photo fails
                    // with the read's error.
                    Err(StepError::Failed(error)) => Next::fail(error),
                    // Not finished (a retry is due): suspend.
                    Err(other) => return Err(other.into()),
                }
            }
            Thumbnail::Resize { job, original } => {
                let Some(size) = original.size else {
                    return Err(Terminal::new(
                        "UnreadableImage",
                        format!("{} ({} bytes) is not an image", job.photo, original.bytes),
                    )
                    .into());
                };
                Next::to(Thumbnail::Upload {
                    job,
                    size: thumbnail_size(size),
                })
            }
            Thumbnail::Upload { job, size } => {
                // At least once: a crash before this transition is recorded writes the same
                // thumbnail again, which only replaces it.
                let version = storage().put_thumbnail(&job.thumbnail, size);
                Next::done(Thumb {
                    photo: job.photo,
                    key: job.thumbnail,
                    size,
                    version,
                })
            }
        })
    }
}

// ---- the parent workflow: the album -------------------------------------------------------

/// The album: plan, fan out, aggregate, then publish or discard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Album {
    Plan(AlbumUpload),
    FanOut {
        album: String,
        jobs: Vec<PhotoJob>,
        tolerated_failures: usize,
    },
    Aggregate {
        album: String,
        jobs: Vec<PhotoJob>,
        tolerated_failures: usize,
        batch: BatchResult<Thumb>,
    },
    Publish(AlbumReport),
    Discard(AlbumReport),
}

impl Transition for Album {
    type Input = AlbumUpload;
    type Output = AlbumReport;

    fn start(upload: AlbumUpload) -> Self {
        Album::Plan(upload)
    }

    fn graph() -> Option<Graph> {
        Some(
            Graph::new("Plan")
                .edge("Plan", "FanOut")
                // No photos, too many, or a key that is blank or too long.
                .fail("Plan")
                .edge("FanOut", "Aggregate")
                .edge("Aggregate", "Publish")
                .edge("Aggregate", "Discard")
                .done("Publish")
                .fail("Discard"),
        )
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Album::Plan(upload) => match plan(&upload) {
                Ok(jobs) => Next::to(Album::FanOut {
                    album: upload.album,
                    jobs,
                    tolerated_failures: upload.tolerated_failures,
                }),
                Err(error) => Next::fail(error),
            },
            Album::FanOut {
                album,
                jobs,
                tolerated_failures,
            } => {
                let config = BatchConfig::new()
                    .max_concurrency(MAX_CONCURRENCY)
                    .tolerated_failures(tolerated_failures);
                // Runs until every photo has finished, or more than `tolerated_failures`
                // failed; a photo waiting for a retry suspends this transition, which runs
                // again (continuing the photos where they stopped) when it is due.
                let batch = ctx
                    .map::<Thumbnail>("thumbnails", jobs.clone(), config)
                    .await?;
                Next::to(Album::Aggregate {
                    album,
                    jobs,
                    tolerated_failures,
                    batch,
                })
            }
            Album::Aggregate {
                album,
                jobs,
                tolerated_failures,
                batch,
            } => {
                let report = aggregate(album, &jobs, tolerated_failures, batch);
                if report.completion == CompletionReason::FailureToleranceExceeded {
                    Next::to(Album::Discard(report))
                } else {
                    Next::to(Album::Publish(report))
                }
            }
            Album::Publish(mut report) => {
                let keys = report.thumbnails.iter().map(|t| t.key.clone()).collect();
                report.manifest = Some(storage().put_manifest(&report.album, keys));
                Next::done(report)
            }
            Album::Discard(report) => {
                for thumb in &report.thumbnails {
                    storage().delete_thumbnail(&thumb.key);
                }
                Next::fail(too_many_failures(&report))
            }
        })
    }
}

/// One job per distinct photo, in album order.
fn plan(upload: &AlbumUpload) -> Result<Vec<PhotoJob>, ErrorObject> {
    if upload.photos.is_empty() {
        return Err(ErrorObject::new(
            "EmptyAlbum",
            format!("album {} has no photos", upload.album),
        ));
    }
    if upload.photos.len() > MAX_PHOTOS {
        return Err(ErrorObject::new(
            "AlbumTooLarge",
            format!(
                "album {} has {} photos, over the {MAX_PHOTOS} an album may have",
                upload.album,
                upload.photos.len()
            ),
        ));
    }
    for (index, photo) in upload.photos.iter().enumerate() {
        let why = if photo.trim().is_empty() {
            "an empty key".to_string()
        } else if photo.len() > MAX_KEY_BYTES {
            format!("a key of {} bytes, over {MAX_KEY_BYTES}", photo.len())
        } else {
            continue;
        };
        return Err(ErrorObject::new(
            "InvalidPhotoKey",
            format!("photo {index} of album {} has {why}", upload.album),
        ));
    }
    let mut seen = HashSet::new();
    Ok(upload
        .photos
        .iter()
        .filter(|p| seen.insert(p.as_str()))
        .map(|photo| PhotoJob {
            photo: photo.clone(),
            thumbnail: format!("thumbnails/{photo}"),
        })
        .collect())
}

/// The report of a completed fan-out: each photo's item, found by its index. A photo without
/// an item, or whose item neither succeeded nor failed, was not processed.
fn aggregate(
    album: String,
    jobs: &[PhotoJob],
    tolerated_failures: usize,
    batch: BatchResult<Thumb>,
) -> AlbumReport {
    let mut report = AlbumReport {
        album,
        photos: jobs.len(),
        tolerated_failures,
        completion: batch.completion_reason,
        thumbnails: Vec::new(),
        failed: Vec::new(),
        not_processed: Vec::new(),
        manifest: None,
    };
    let mut items: HashMap<usize, BatchItem<Thumb>> =
        batch.all.into_iter().map(|i| (i.index, i)).collect();
    for (index, job) in jobs.iter().enumerate() {
        let photo = job.photo.clone();
        match items.remove(&index) {
            Some(BatchItem {
                status: ItemStatus::Succeeded,
                result: Some(thumb),
                ..
            }) => report.thumbnails.push(thumb),
            Some(BatchItem {
                status: ItemStatus::Failed,
                error,
                ..
            }) => {
                let error = error.unwrap_or_default();
                report.failed.push(FailedPhoto {
                    photo,
                    error_type: error.error_type.unwrap_or_default(),
                    message: error.error_message.unwrap_or_default(),
                });
            }
            _ => report.not_processed.push(photo),
        }
    }
    report
}

/// The error of an album with more failures than tolerated.
fn too_many_failures(report: &AlbumReport) -> ErrorObject {
    let failed: Vec<String> = report
        .failed
        .iter()
        .map(|f| format!("{} ({})", f.photo, f.error_type))
        .collect();
    let mut message = format!(
        "{} of {} photos of album {} failed, over the {} tolerated: {}",
        report.failed.len(),
        report.photos,
        report.album,
        report.tolerated_failures,
        failed.join(", ")
    );
    if !report.not_processed.is_empty() {
        message.push_str(&format!(
            "; not processed: {}",
            report.not_processed.join(", ")
        ));
    }
    message.push_str(&match report.thumbnails.len() {
        0 => "; no thumbnail was made".to_string(),
        1 => "; deleted the 1 thumbnail made".to_string(),
        n => format!("; deleted the {n} thumbnails made"),
    });
    ErrorObject::new("TooManyFailures", message)
}
