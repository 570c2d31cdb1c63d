//! `cargo run --example fanout`: thumbnails for uploaded photo albums, one child machine per
//! photo run with `ctx.map` (four at a time, some failures tolerated), run durably on the
//! embedded local service (SQLite). Two albums run side by side: one is published although a
//! read times out once (retried a second later) and two photos fail, within its tolerance;
//! in the other, more photos fail than tolerated, so the thumbnails made are deleted and the
//! execution fails. The simulated object store lives in this process's memory, so each run
//! starts from an empty database.

// It prints a summary of each history instead of `Local::print_history`'s whole table.
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
mod storage;
mod workflow;

use common::{Database, Local};
use durable_fsm::display::history_table;
use durable_fsm::model::Event;
use std::collections::HashSet;
use std::time::Duration;
use storage::{Original, storage};
use workflow::{Album, AlbumReport, AlbumUpload};

const FUNCTION: &str = "album-thumbnails";

/// Uploads the originals of two albums and returns their executions' inputs.
fn upload_albums() -> [AlbumUpload; 2] {
    let s = storage();
    let trip = [
        ("summer-trip/IMG_0101.jpg", Original::photo(4032, 3024)),
        ("summer-trip/IMG_0102.jpg", Original::photo(3024, 4032)),
        ("summer-trip/IMG_0103.jpg", Original::photo(4000, 4000)),
        ("summer-trip/IMG_0104.jpg", Original::photo(6000, 4000)),
        ("summer-trip/IMG_0105.jpg", Original::photo(1920, 1080)),
        ("summer-trip/IMG_0107.heic", Original::unreadable(811_008)),
        ("summer-trip/IMG_0108.jpg", Original::photo(240, 180)),
    ];
    for (key, original) in trip {
        s.upload(key, original);
    }
    // The store is slow to answer the first read of this one.
    s.time_out_next_gets("summer-trip/IMG_0104.jpg", 1);
    let negatives = [
        ("negatives/scan-01.tif", Original::photo(5400, 3600)),
        ("negatives/scan-02.tif", Original::unreadable(52_428_800)),
        ("negatives/scan-04.tif", Original::photo(5400, 3600)),
    ];
    for (key, original) in negatives {
        s.upload(key, original);
    }
    [
        AlbumUpload {
            album: "summer-trip".into(),
            // IMG_0106.jpg was never uploaded; IMG_0101.jpg is listed twice.
            photos: [
                "IMG_0101.jpg",
                "IMG_0102.jpg",
                "IMG_0103.jpg",
                "IMG_0104.jpg",
                "IMG_0105.jpg",
                "IMG_0106.jpg",
                "IMG_0107.heic",
                "IMG_0108.jpg",
                "IMG_0101.jpg",
            ]
            .map(|p| format!("summer-trip/{p}"))
            .to_vec(),
            tolerated_failures: 2,
        },
        AlbumUpload {
            album: "negatives".into(),
            photos: (1..=5)
                .map(|n| format!("negatives/scan-{n:02}.tif"))
                .collect(),
            tolerated_failures: 1,
        },
    ]
}

#[tokio::main]
async fn main() -> Result<(), common::Error> {
    let local = Local::open("fanout", Database::Fresh, |registry| {
        registry.register::<Album>(FUNCTION);
    })?;
    let albums = upload_albums();
    let mut arns = Vec::new();
    for upload in &albums {
        println!(
            "album {}: {} photos listed, at most {} may fail",
            upload.album,
            upload.photos.len(),
            upload.tolerated_failures
        );
        arns.push(local.start(FUNCTION, &upload.album, upload)?.arn);
    }
    for (upload, arn) in albums.iter().zip(&arns) {
        let end = local.wait(arn, Duration::from_secs(60)).await?;
        println!("\n=== album {}", upload.album);
        match (&end.result, &end.error) {
            (Some(result), _) => print_report(&serde_json::from_str(result)?),
            (None, Some(error)) => println!("{}: {error}", end.status),
            (None, None) => println!("{} without a result", end.status),
        }
        let distinct: HashSet<&String> = upload.photos.iter().collect();
        let reads: u32 = distinct.iter().map(|p| storage().reads(p)).sum();
        let thumbnail = |p: &&String| format!("thumbnails/{p}");
        let writes: u32 = distinct
            .iter()
            .map(|p| storage().thumbnail_writes(&thumbnail(p)))
            .sum();
        let kept = distinct
            .iter()
            .filter(|p| storage().thumbnail(&thumbnail(p)).is_some())
            .count();
        println!(
            "object store: {reads} reads of {} distinct photos (timeouts included), \
             thumbnail writes: {writes}, thumbnails kept: {kept}",
            distinct.len()
        );
        print_summary(&local, arn)?;
    }
    local.shutdown().await;
    Ok(())
}

/// The report of a published album, a line a photo.
fn print_report(report: &AlbumReport) {
    println!(
        "published {} (map completed: {}): {} thumbnails, {} failed, manifest {}",
        report.album,
        serde_json::to_string(&report.completion)
            .unwrap_or_default()
            .trim_matches('"'),
        report.thumbnails.len(),
        report.failed.len(),
        report.manifest.as_deref().unwrap_or("-")
    );
    for t in &report.thumbnails {
        println!(
            "  {:<28} -> {} ({}x{})",
            t.photo, t.key, t.size.width, t.size.height
        );
    }
    for f in &report.failed {
        println!("  {:<28} failed: {}: {}", f.photo, f.error_type, f.message);
    }
    let in_manifest = report
        .manifest
        .as_deref()
        .and_then(|m| storage().manifest(m))
        .map_or(0, |keys| keys.len());
    println!("the manifest lists {in_manifest} thumbnails");
}

/// The execution's history without the events inside the photos' child machines (one
/// `MapIteration` context per photo stays, with how it ended).
fn print_summary(local: &Local, arn: &str) -> Result<(), common::Error> {
    let events = local.service.lock()?.events(arn)?;
    let children: HashSet<String> = events
        .iter()
        .filter(|e| e.sub_type.as_deref() == Some("MapIteration"))
        .filter_map(|e| e.id.clone())
        .collect();
    let (inside, summary): (Vec<Event>, Vec<Event>) = events
        .into_iter()
        .partition(|e| e.parent_id.as_ref().is_some_and(|p| children.contains(p)));
    println!(
        "\nhistory of {arn}\n(without the {} events inside the {} photos' child machines):\n{}",
        inside.len(),
        children.len(),
        history_table(&summary, 140)
    );
    Ok(())
}
