//! The fan-out example (examples/fanout/) on the test runner: an album whose photos all make
//! thumbnails, failures within and beyond the tolerance, the concurrency limit, crashes in the
//! middle of the fan-out; `explore` over the parent's and the child's declared graphs; and the
//! Mermaid pictures the book shows.

#[path = "../examples/fanout/storage.rs"]
mod storage;
#[path = "../examples/fanout/workflow.rs"]
mod workflow;

use durable_fsm::Transition;
use durable_fsm::display::graph::mermaid;
use durable_fsm::display::trace::Trace;
use durable_fsm::machine::ops::{BatchItem, BatchResult, CompletionReason, ItemStatus};
use durable_fsm::model::{ErrorObject, Event, EventType, ExecutionStatus, OperationType};
use durable_fsm::testing::{Fault, Samples, TestOutcome, TestRunner, explore};
use std::collections::HashMap;
use std::time::Duration;
use storage::{Original, Size, storage};
use workflow::{
    Album, AlbumReport, AlbumUpload, MAX_CONCURRENCY, MAX_KEY_BYTES, MAX_PHOTOS, PhotoJob, Thumb,
    Thumbnail, thumbnail_size,
};

/// What the object store holds for a photo of a test album.
#[derive(Clone, Copy)]
enum Photo {
    /// A readable image of this size.
    Image(u32, u32),
    /// An image whose first read times out.
    Slow(u32, u32),
    /// Never uploaded.
    Missing,
    /// Uploaded, not an image.
    Unreadable,
}

/// Uploads an album's photos under `album/` (each test uses its own album: the simulated
/// store is shared by the whole process) and returns the execution input.
fn album(album: &str, photos: &[Photo], tolerated_failures: usize) -> AlbumUpload {
    let keys = (0..photos.len()).map(|i| format!("{album}/p{i}.jpg"));
    for (key, photo) in keys.clone().zip(photos) {
        match *photo {
            Photo::Image(w, h) => storage().upload(&key, Original::photo(w, h)),
            Photo::Slow(w, h) => {
                storage().upload(&key, Original::photo(w, h));
                storage().time_out_next_gets(&key, 1);
            }
            Photo::Missing => {}
            Photo::Unreadable => storage().upload(&key, Original::unreadable(4096)),
        }
    }
    AlbumUpload {
        album: album.into(),
        photos: keys.collect(),
        tolerated_failures,
    }
}

async fn run(upload: &AlbumUpload) -> TestOutcome {
    TestRunner::<Album>::new().run(upload).await.unwrap()
}

/// A runner for albums with slow photos: transitions suspend on unfinished operations (a
/// photo's read waiting for its retry, the fan-out waiting for that photo), which the strict
/// graph check must not take for an edge.
fn strict_runner() -> TestRunner<Album> {
    TestRunner::<Album>::new().strict_graph(true)
}

/// The parent's edges, in the order taken.
fn path(events: &[Event]) -> Vec<String> {
    let trace = Trace::from_events(events);
    trace.edges.iter().map(|c| c.edge.to_string()).collect()
}

fn thumbnail_key(photo: &str) -> String {
    format!("thumbnails/{photo}")
}

fn photos_of(thumbs: &[Thumb]) -> Vec<&str> {
    thumbs.iter().map(|t| t.photo.as_str()).collect()
}

/// The recorded result of the `thumbnails` Map context.
fn map_result(out: &TestOutcome) -> BatchResult<Thumb> {
    let map = out
        .operations
        .iter()
        .find(|op| op.op_type == OperationType::Context && op.sub_type.as_deref() == Some("Map"))
        .expect("a Map context");
    assert_eq!(map.name.as_deref(), Some("thumbnails"));
    let result = map
        .context_details
        .as_ref()
        .and_then(|d| d.result.as_deref());
    serde_json::from_str(result.expect("the Map context's result")).unwrap()
}

#[tokio::test]
async fn every_photo_makes_a_thumbnail_in_album_order() {
    let upload = album(
        "all-good",
        &[
            Photo::Image(4032, 3024),
            Photo::Image(3024, 4032),
            Photo::Image(240, 180),
            Photo::Image(1920, 1080),
            Photo::Image(4000, 4000),
            Photo::Image(6000, 4000),
        ],
        0,
    );
    let out = run(&upload).await;
    let report: AlbumReport = out.output().unwrap();
    assert_eq!(report.completion, CompletionReason::AllCompleted);
    assert_eq!(report.photos, 6);
    assert_eq!(
        photos_of(&report.thumbnails),
        upload.photos.iter().map(String::as_str).collect::<Vec<_>>(),
        "results come in album (index) order"
    );
    let sizes: Vec<(u32, u32)> = report
        .thumbnails
        .iter()
        .map(|t| (t.size.width, t.size.height))
        .collect();
    // Longest side 320, aspect ratio kept, small images not enlarged.
    assert_eq!(
        sizes,
        [
            (320, 240),
            (240, 320),
            (240, 180),
            (320, 180),
            (320, 320),
            (320, 213)
        ]
    );
    assert!(report.failed.is_empty() && report.not_processed.is_empty());
    let manifest = storage()
        .manifest(report.manifest.as_deref().unwrap())
        .unwrap();
    let keys: Vec<String> = upload.photos.iter().map(|p| thumbnail_key(p)).collect();
    assert_eq!(manifest, keys);
    for key in &keys {
        assert_eq!(storage().thumbnail_writes(key), 1, "{key}");
        assert!(storage().thumbnail(key).is_some(), "{key}");
    }
    assert_eq!(
        path(&out.events),
        [
            "Plan → FanOut",
            "FanOut → Aggregate",
            "Aggregate → Publish",
            "Publish → done"
        ]
    );
    // One Map context holding one MapIteration context a photo; no child waited, so one
    // invocation did it all.
    let iterations = out
        .operations
        .iter()
        .filter(|op| op.sub_type.as_deref() == Some("MapIteration"))
        .count();
    assert_eq!(iterations, 6);
    assert_eq!(out.invocations, 1, "{}", out.history_table());
}

#[tokio::test]
async fn failures_within_the_tolerance_are_listed_and_the_album_is_published() {
    let mut upload = album(
        "some-fail",
        &[
            Photo::Image(800, 600),
            Photo::Missing,
            Photo::Image(600, 800),
            Photo::Unreadable,
            Photo::Image(100, 100),
        ],
        2,
    );
    // A photo listed twice is processed once.
    upload.photos.push(upload.photos[0].clone());
    let out = run(&upload).await;
    let report: AlbumReport = out.output().unwrap();
    assert_eq!(report.completion, CompletionReason::AllCompleted);
    assert_eq!((report.photos, report.tolerated_failures), (5, 2));
    assert_eq!(
        photos_of(&report.thumbnails),
        ["some-fail/p0.jpg", "some-fail/p2.jpg", "some-fail/p4.jpg"]
    );
    let failed: Vec<(&str, &str)> = report
        .failed
        .iter()
        .map(|f| (f.photo.as_str(), f.error_type.as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            ("some-fail/p1.jpg", "PhotoNotFound"),
            ("some-fail/p3.jpg", "UnreadableImage")
        ]
    );
    assert_eq!(
        report.failed[0].message,
        "no original some-fail/p1.jpg in the object store"
    );
    assert_eq!(
        report.failed[1].message,
        "some-fail/p3.jpg (4096 bytes) is not an image"
    );
    assert_eq!(path(&out.events)[2], "Aggregate → Publish");
    // The children failed, each in its own context; the parent carried on.
    let failed_contexts = out
        .events_of(EventType::ContextFailed)
        .filter(|e| e.sub_type.as_deref() == Some("MapIteration"))
        .count();
    assert_eq!(failed_contexts, 2);
    assert_eq!(storage().thumbnail_writes("thumbnails/some-fail/p0.jpg"), 1);
}

#[tokio::test]
async fn too_many_failures_stop_the_fan_out_and_discard_the_thumbnails_made() {
    let upload = album(
        "too-many",
        &[
            Photo::Image(800, 600),
            Photo::Missing,
            Photo::Unreadable,
            Photo::Image(800, 600),
            Photo::Image(800, 600),
        ],
        1,
    );
    let out = run(&upload).await;
    assert_eq!(
        out.status,
        ExecutionStatus::Failed,
        "{}",
        out.history_table()
    );
    let error = out.error.clone().unwrap();
    assert_eq!(error.error_type.as_deref(), Some("TooManyFailures"));
    assert_eq!(
        error.error_message.as_deref(),
        Some(
            "2 of 5 photos of album too-many failed, over the 1 tolerated: \
             too-many/p1.jpg (PhotoNotFound), too-many/p2.jpg (UnreadableImage); \
             not processed: too-many/p3.jpg, too-many/p4.jpg; deleted the 1 thumbnail made"
        )
    );
    // The second failure completed the map: the photos after it never started.
    let batch = map_result(&out);
    assert_eq!(
        batch.completion_reason,
        CompletionReason::FailureToleranceExceeded
    );
    let status = |index| {
        let item = batch
            .all
            .iter()
            .find(|i: &&BatchItem<Thumb>| i.index == index);
        item.map(|i| i.status)
    };
    assert_eq!(
        [status(0), status(1), status(2)],
        [
            Some(ItemStatus::Succeeded),
            Some(ItemStatus::Failed),
            Some(ItemStatus::Failed)
        ]
    );
    for index in [3, 4] {
        assert!(
            matches!(status(index), None | Some(ItemStatus::NotStarted)),
            "item {index}: {:?}",
            status(index)
        );
    }
    assert_eq!(storage().reads("too-many/p3.jpg"), 0);
    assert_eq!(storage().reads("too-many/p4.jpg"), 0);
    // The thumbnail made before was deleted: the album is not published half done.
    assert_eq!(storage().thumbnail_writes("thumbnails/too-many/p0.jpg"), 1);
    assert_eq!(storage().thumbnail("thumbnails/too-many/p0.jpg"), None);
    assert_eq!(
        path(&out.events),
        [
            "Plan → FanOut",
            "FanOut → Aggregate",
            "Aggregate → Discard",
            "Discard → fail"
        ]
    );
}

#[tokio::test]
async fn a_photo_still_in_flight_when_the_tolerance_is_exceeded_is_left_unfinished() {
    // The first photo's read times out (a retry is due in a second) while the next two fail:
    // the map completes at once and the first photo is reported as not processed.
    let upload = album(
        "in-flight",
        &[
            Photo::Slow(800, 600),
            Photo::Missing,
            Photo::Missing,
            Photo::Image(800, 600),
        ],
        1,
    );
    let out = strict_runner().run(&upload).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    let message = out.error.clone().unwrap().error_message.unwrap();
    assert!(
        message
            .contains("not processed: in-flight/p0.jpg, in-flight/p3.jpg; no thumbnail was made"),
        "{message}"
    );
    let batch = map_result(&out);
    assert_eq!(batch.all[0].status, ItemStatus::Started);
    assert!(
        batch
            .all
            .iter()
            .all(|i| i.index != 3 || i.status == ItemStatus::NotStarted)
    );
    // The abandoned photo's retry never ran: one read, the one that timed out.
    assert_eq!(storage().reads("in-flight/p0.jpg"), 1);
    assert_eq!(out.invocations, 1, "{}", out.history_table());
}

#[tokio::test]
async fn at_most_four_photos_are_in_flight_at_once() {
    // Every first read times out: each photo waits a second for its retry, so the photos run
    // in waves of four, in album order.
    let photos = [Photo::Slow(1000, 800); 10];
    let upload = album("waves", &photos, 0);
    let out = strict_runner().run(&upload).await.unwrap();
    let report: AlbumReport = out.output().unwrap();
    assert_eq!(report.thumbnails.len(), 10);
    assert_eq!(
        photos_of(&report.thumbnails),
        upload.photos.iter().map(String::as_str).collect::<Vec<_>>()
    );

    // Which photo each MapIteration context is, from its result.
    let photo_of: HashMap<String, String> = out
        .events_of(EventType::ContextSucceeded)
        .filter(|e| e.sub_type.as_deref() == Some("MapIteration"))
        .map(|e| {
            let details = e.context_succeeded_details.as_ref().unwrap();
            let payload = details.result.as_ref().and_then(|r| r.payload.as_deref());
            let thumb: Thumb = serde_json::from_str(payload.unwrap()).unwrap();
            (e.id.clone().unwrap(), thumb.photo)
        })
        .collect();
    let (mut in_flight, mut most, mut started) = (0usize, 0usize, Vec::new());
    for e in out.events.iter() {
        if e.sub_type.as_deref() != Some("MapIteration") {
            continue;
        }
        match e.event_type {
            EventType::ContextStarted => {
                in_flight += 1;
                most = most.max(in_flight);
                started.push(photo_of[e.id.as_ref().unwrap()].clone());
            }
            EventType::ContextSucceeded | EventType::ContextFailed => in_flight -= 1,
            _ => {}
        }
    }
    assert_eq!(most, MAX_CONCURRENCY, "{}", out.history_table());
    assert_eq!(started, upload.photos, "photos start in album order");
    // Three waves (4, 4, 2), each started in one invocation and finished in the next.
    assert_eq!(out.invocations, 4, "{}", out.history_table());
    assert!(out.elapsed >= Duration::from_secs(3), "{:?}", out.elapsed);
    for key in &upload.photos {
        assert_eq!(storage().reads(key), 2, "{key}: a timeout, then the read");
    }
}

/// A report without what differs between albums: the album name and the store's versions.
fn comparable(report: &AlbumReport) -> String {
    let mut report = report.clone();
    let prefix = format!("{}/", report.album);
    report.album = String::new();
    report.manifest = None;
    for t in &mut report.thumbnails {
        t.photo = t.photo.replace(&prefix, "");
        t.key = t.key.replace(&prefix, "");
        t.version = 0;
    }
    for f in &mut report.failed {
        f.photo = f.photo.replace(&prefix, "");
        f.message = f.message.replace(&prefix, "");
    }
    serde_json::to_string(&report).unwrap()
}

const CRASH_ALBUM: [Photo; 6] = [
    Photo::Image(800, 600),
    Photo::Slow(600, 800),
    Photo::Missing,
    Photo::Image(1600, 1200),
    Photo::Image(300, 200),
    Photo::Image(2000, 1000),
];

#[tokio::test]
async fn a_crash_in_the_middle_of_the_fan_out_does_not_redo_finished_photos() {
    let clean = strict_runner()
        .run(&album("crash-clean", &CRASH_ALBUM, 1))
        .await
        .unwrap();
    let expected = comparable(&clean.output().unwrap());
    let calls = clean.checkpoint_calls;
    assert!(calls >= 10, "{calls} checkpoint calls");
    let mut written_again = 0;
    for n in 1..=calls {
        for fault in [Fault::FailBefore, Fault::LoseResponse] {
            let name = format!("crash-{fault:?}-{n}");
            let context = format!("{fault:?} at checkpoint call {n} of {calls}");
            let upload = album(&name, &CRASH_ALBUM, 1);
            let out = strict_runner()
                .fail_checkpoint(n, fault)
                .run(&upload)
                .await
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            let report: AlbumReport = out
                .output()
                .unwrap_or_else(|e| panic!("{context}: {e}\n{}", out.history_table()));
            assert_eq!(comparable(&report), expected, "{context}");
            // One invocation failed and the service invoked again (fewer in all when the
            // slow read's timeout fell in the lost invocation and the read that followed
            // went through at once).
            let failed = out
                .events_of(EventType::InvocationCompleted)
                .filter(|e| {
                    e.invocation_completed_details
                        .as_ref()
                        .is_some_and(|d| d.error.is_some())
                })
                .count();
            assert_eq!(failed, 1, "{context}");
            assert!(out.invocations <= clean.invocations + 1, "{context}");
            // A lost call ran again at most the one transition it recorded: a photo whose
            // thumbnail write was recorded before the crash is not written again.
            let writes: Vec<u32> = report
                .thumbnails
                .iter()
                .map(|t| storage().thumbnail_writes(&t.key))
                .collect();
            let again = writes.iter().filter(|&&w| w > 1).count();
            written_again += again;
            match fault {
                Fault::FailBefore => assert!(
                    again <= 1 && writes.iter().all(|&w| w <= 2),
                    "{context}: {writes:?}"
                ),
                // The call was applied: nothing runs again.
                _ => assert_eq!(again, 0, "{context}: {writes:?}"),
            }
        }
    }
    // Some lost calls did carry a thumbnail write: the runs above do cover a write repeated.
    assert!(written_again > 0);
    println!("{calls} checkpoint calls; {written_again} thumbnail writes repeated in all");
}

#[tokio::test]
async fn an_album_without_photos_or_with_a_blank_key_is_refused() {
    let empty = AlbumUpload {
        album: "empty".into(),
        photos: vec![],
        tolerated_failures: 0,
    };
    let out = run(&empty).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(
        out.error,
        Some(ErrorObject::new("EmptyAlbum", "album empty has no photos"))
    );
    let blank = AlbumUpload {
        album: "blank".into(),
        photos: vec!["blank/p0.jpg".into(), " ".into()],
        tolerated_failures: 0,
    };
    let out = run(&blank).await;
    assert_eq!(
        out.error,
        Some(ErrorObject::new(
            "InvalidPhotoKey",
            "photo 1 of album blank has an empty key"
        ))
    );
    assert_eq!(path(&out.events), ["Plan → fail"]);

    let long = AlbumUpload {
        album: "long".into(),
        photos: vec!["x".repeat(MAX_KEY_BYTES + 1)],
        tolerated_failures: 0,
    };
    let error = run(&long).await.error.unwrap();
    assert_eq!(
        error.error_message.as_deref(),
        Some("photo 0 of album long has a key of 201 bytes, over 200")
    );
    let large = AlbumUpload {
        album: "large".into(),
        photos: (0..=MAX_PHOTOS)
            .map(|i| format!("large/p{i}.jpg"))
            .collect(),
        tolerated_failures: 0,
    };
    let error = run(&large).await.error.unwrap();
    assert_eq!(
        error.error_message.as_deref(),
        Some("album large has 201 photos, over the 200 an album may have")
    );
}

#[tokio::test]
async fn the_largest_album_fits_the_checkpoint_limits() {
    // MAX_PHOTOS photos with keys of MAX_KEY_BYTES, half of them failing: every state and the
    // map's result must stay under the 256 KiB of a checkpointed payload.
    let name = "largest";
    let photos: Vec<String> = (0..MAX_PHOTOS)
        .map(|i| {
            let key = format!("{name}/{i:04}-");
            format!("{key}{}", "x".repeat(MAX_KEY_BYTES - key.len()))
        })
        .collect();
    for (i, key) in photos.iter().enumerate() {
        if i % 2 == 0 {
            storage().upload(key, Original::photo(4000, 3000));
        }
    }
    let upload = AlbumUpload {
        album: name.into(),
        photos,
        tolerated_failures: MAX_PHOTOS / 2,
    };
    let out = run(&upload).await;
    let report: AlbumReport = out.output().unwrap();
    assert_eq!(
        (report.thumbnails.len(), report.failed.len()),
        (MAX_PHOTOS / 2, MAX_PHOTOS / 2)
    );
    let largest = out
        .operations
        .iter()
        .filter_map(|op| {
            let step = op.step_details.as_ref().and_then(|d| d.result.as_ref());
            let context = op.context_details.as_ref().and_then(|d| d.result.as_ref());
            step.or(context).map(String::len)
        })
        .max()
        .unwrap();
    assert!(largest < 256 * 1024, "{largest} bytes");
    println!("the largest recorded payload: {largest} bytes");
}

#[test]
fn thumbnails_keep_the_aspect_ratio_and_are_never_enlarged() {
    let size = |width, height| Size { width, height };
    assert_eq!(thumbnail_size(size(4000, 1000)), size(320, 80));
    assert_eq!(thumbnail_size(size(1000, 4000)), size(80, 320));
    assert_eq!(thumbnail_size(size(320, 10)), size(320, 10));
    // A sliver still has a pixel.
    assert_eq!(thumbnail_size(size(100_000, 10)), size(320, 1));
}

// ---- explore ------------------------------------------------------------------------------

fn job(photo: &str) -> PhotoJob {
    PhotoJob {
        photo: photo.into(),
        thumbnail: thumbnail_key(photo),
    }
}

fn thumb(photo: &str) -> Thumb {
    Thumb {
        photo: photo.into(),
        key: thumbnail_key(photo),
        size: Size {
            width: 320,
            height: 240,
        },
        version: 1,
    }
}

fn report(completion: CompletionReason) -> AlbumReport {
    AlbumReport {
        album: "explore".into(),
        photos: 2,
        tolerated_failures: 0,
        completion,
        thumbnails: vec![thumb("explore/p0.jpg")],
        failed: vec![],
        not_processed: vec![],
        manifest: None,
    }
}

fn item(index: usize, status: ItemStatus) -> BatchItem<Thumb> {
    BatchItem {
        index,
        name: None,
        status,
        result: (status == ItemStatus::Succeeded).then(|| thumb(&format!("explore/p{index}.jpg"))),
        error: (status == ItemStatus::Failed)
            .then(|| ErrorObject::new("PhotoNotFound", "no original")),
    }
}

#[test]
fn explore_the_photo_machine() {
    let upload = album(
        "explore-photo",
        &[Photo::Image(800, 600), Photo::Missing],
        0,
    );
    let samples = Samples::new([
        Thumbnail::Fetch(job(&upload.photos[0])),
        Thumbnail::Fetch(job(&upload.photos[1])),
        Thumbnail::Resize {
            job: job(&upload.photos[0]),
            original: Original::photo(800, 600),
        },
        Thumbnail::Resize {
            job: job(&upload.photos[0]),
            original: Original::unreadable(10),
        },
        Thumbnail::Upload {
            job: job("explore-photo/upload.jpg"),
            size: Size {
                width: 320,
                height: 240,
            },
        },
    ]);
    let report = explore(samples);
    assert!(report.is_ok(), "{report}");
    assert!(
        report.to_string().ends_with(
            ": ok\n  every state is reachable from `Fetch` and can finish; every declared edge was taken, and only those\n"
        ),
        "{report}"
    );
    let observed: Vec<String> = report.observed.iter().map(ToString::to_string).collect();
    assert_eq!(
        observed,
        [
            "Fetch → Resize (sample 0)",
            "Fetch → fail (sample 1)",
            "Resize → Upload (sample 2)",
            "Resize → fail (sample 3)",
            "Upload → done (sample 4)"
        ]
    );
}

#[test]
fn explore_the_album_workflow() {
    // The FanOut sample runs the real map over two photos that are in the store.
    let upload = album(
        "explore-album",
        &[Photo::Image(800, 600), Photo::Image(600, 800)],
        0,
    );
    let jobs: Vec<PhotoJob> = upload.photos.iter().map(|p| job(p)).collect();
    let batch = |items: Vec<BatchItem<Thumb>>, reason| BatchResult {
        all: items,
        completion_reason: reason,
    };
    let samples = Samples::new([
        Album::Plan(upload.clone()),
        Album::Plan(AlbumUpload {
            photos: vec![],
            ..upload.clone()
        }),
        Album::FanOut {
            album: upload.album.clone(),
            jobs: jobs.clone(),
            tolerated_failures: 0,
        },
        Album::Aggregate {
            album: upload.album.clone(),
            jobs: jobs.clone(),
            tolerated_failures: 1,
            batch: batch(
                vec![item(0, ItemStatus::Succeeded), item(1, ItemStatus::Failed)],
                CompletionReason::AllCompleted,
            ),
        },
        Album::Aggregate {
            album: upload.album.clone(),
            jobs,
            tolerated_failures: 0,
            batch: batch(
                vec![item(0, ItemStatus::Failed), item(1, ItemStatus::NotStarted)],
                CompletionReason::FailureToleranceExceeded,
            ),
        },
        Album::Publish(report(CompletionReason::AllCompleted)),
        Album::Discard(report(CompletionReason::FailureToleranceExceeded)),
    ]);
    let report = explore(samples);
    assert!(report.is_ok(), "{report}");
    assert!(
        report.to_string().ends_with(
            ": ok\n  every state is reachable from `Plan` and can finish; every declared edge was taken, and only those\n"
        ),
        "{report}"
    );
    let observed: Vec<String> = report.observed.iter().map(ToString::to_string).collect();
    assert_eq!(
        observed,
        [
            "Plan → FanOut (sample 0)",
            "Plan → fail (sample 1)",
            "FanOut → Aggregate (sample 2)",
            "Aggregate → Publish (sample 3)",
            "Aggregate → Discard (sample 4)",
            "Publish → done (sample 5)",
            "Discard → fail (sample 6)"
        ]
    );
    // The map ran for real: both photos have thumbnails.
    for photo in &upload.photos {
        assert_eq!(storage().thumbnail_writes(&thumbnail_key(photo)), 1);
    }
}

// ---- the pictures -------------------------------------------------------------------------

/// The pictures in book/src/examples.md: `cargo test --all-features --test fanout
/// the_declared_graphs_as_mermaid -- --nocapture` prints them.
#[test]
fn the_declared_graphs_as_mermaid() {
    let album = mermaid(&Album::graph().unwrap());
    let photo = mermaid(&Thumbnail::graph().unwrap());
    println!("{album}\n{photo}");
    assert_eq!(
        album,
        "stateDiagram-v2
    [*] --> Plan
    Plan --> FanOut
    Plan --> [*]: fail
    FanOut --> Aggregate
    Aggregate --> Publish
    Aggregate --> Discard
    Publish --> [*]: done
    Discard --> [*]: fail
"
    );
    assert_eq!(
        photo,
        "stateDiagram-v2
    [*] --> Fetch
    Fetch --> Resize
    Fetch --> [*]: fail
    Resize --> Upload
    Resize --> [*]: fail
    Upload --> [*]: done
"
    );
    let book = include_str!("../book/src/examples.md");
    for (name, text) in [("album", &album), ("photo", &photo)] {
        assert!(
            book.contains(&format!("```mermaid\n{text}```")),
            "book/src/examples.md does not show the current {name} graph"
        );
    }
}
