//! The dataset registry through the router: every format uploaded and listed, every bad input
//! refused at its field with nothing left behind, a run and a sweep trained on uploaded data, and
//! deletion refused while runs use it.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use datasets::testgen::{ImageCodec, RawTarEntry, gzip, image_folder_files, tar_bytes, zip_bytes};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::TestApp;

type Files = Vec<(String, Vec<u8>)>;

fn folder(
    prefix: &str,
    splits: &[&str],
    per_class: usize,
    channels: usize,
    codec: ImageCodec,
) -> Files {
    image_folder_files(
        prefix,
        splits,
        &["circle", "square", "star"],
        per_class,
        (8, 8),
        channels,
        codec,
    )
    .expect("images")
}

fn tgz(files: &Files) -> Vec<u8> {
    gzip(&tar_bytes(files, &[]).expect("tar"))
}

impl TestApp {
    async fn upload(&self, query: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let req = Request::post(format!("/api/datasets?{query}"))
            .header(header::CONTENT_LENGTH, bytes.len())
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(bytes))
            .expect("request");
        self.call(req).await
    }

    /// Registered names, built-in datasets left out.
    async fn registered_names(&self) -> Vec<String> {
        let (code, list) = self.get("/api/datasets").await;
        assert_eq!(code, StatusCode::OK, "{list}");
        list.as_array()
            .expect("a list")
            .iter()
            .filter(|d| d["builtin"] == false)
            .map(|d| d["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Files in the registry folder (cache files and anything left over), uploads' folder included.
    fn registry_files(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p.display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.lab.runs().registry().dir(), &mut out);
        out
    }
}

/// The field of the only error of a 422, and its message.
fn refusal(code: StatusCode, body: &Value) -> (String, String) {
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let f = &body["fields"][0];
    (
        f["field"].as_str().unwrap_or_default().to_owned(),
        f["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn an_image_folder_archive_registers_lists_and_shows_its_thumbnails() {
    let app = TestApp::new().await;
    let files = folder("", &["train/", "test/"], 4, 3, ImageCodec::Png);
    let (code, body) = app
        .upload("name=shapes&file_name=shapes.tar.gz", tgz(&files))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let d = &body["dataset"];
    assert_eq!(
        (
            d["name"].clone(),
            d["version"].clone(),
            d["kind"].clone(),
            d["shape"].clone()
        ),
        (json!("shapes"), json!(1), json!("images"), json!([3, 8, 8]))
    );
    assert_eq!(d["class_names"], json!(["circle", "square", "star"]));
    assert_eq!(
        (d["train_per_class"].clone(), d["test_per_class"].clone()),
        (json!([4, 4, 4]), json!([4, 4, 4]))
    );
    assert_eq!(d["mean"].as_array().map(Vec::len), Some(3), "{d}");
    assert!(
        d["std"]
            .as_array()
            .expect("std")
            .iter()
            .all(|s| s.as_f64().is_some_and(|s| s > 0.0))
    );
    let hash = d["hash"].as_str().expect("hash").to_owned();
    assert_eq!(hash.len(), 64);

    // Listed beside the built-in datasets, and fetched by name.
    let (_, list) = app.get("/api/datasets").await;
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["fashion_mnist", "mnist", "cifar10", "shapes"]);
    let (code, one) = app.get("/api/datasets/shapes").await;
    assert_eq!(
        (code, one["hash"].as_str()),
        (StatusCode::OK, Some(hash.as_str()))
    );
    assert_eq!(one["available"], true);

    let res = app
        .router
        .clone()
        .oneshot(
            Request::get("/api/datasets/shapes/samples.png")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("router answers");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/png");
    let png = res.into_body().collect().await.expect("body").to_bytes();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");

    // The same content again changes nothing; other content is the next version.
    let (code, again) = app
        .upload("name=shapes&file_name=shapes.tar.gz", tgz(&files))
        .await;
    assert_eq!(
        (code, again["existed"].clone()),
        (StatusCode::OK, json!(true)),
        "{again}"
    );
    let more = folder("", &["train/", "test/"], 5, 3, ImageCodec::Png);
    let (code, v2) = app
        .upload("name=shapes&file_name=shapes.tar.gz", tgz(&more))
        .await;
    assert_eq!(
        (code, v2["dataset"]["version"].clone()),
        (StatusCode::CREATED, json!(2)),
        "{v2}"
    );
    assert_ne!(v2["dataset"]["hash"].as_str(), Some(hash.as_str()));
    assert_eq!(app.registered_names().await, ["shapes"]);
    // Two cache files (one per version) and no upload left over.
    assert_eq!(app.registry_files().len(), 2, "{:?}", app.registry_files());
}

#[tokio::test]
async fn zip_tar_npz_and_csv_register_as_their_kinds() {
    let app = TestApp::new().await;
    // A zip with a wrapper folder and no test split: one class folder each, 25% held out.
    let gray = folder("mine/", &[""], 8, 1, ImageCodec::Jpeg);
    let (code, b) = app
        .upload("name=gray&held_out=0.25", zip_bytes(&gray).expect("zip"))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{b}");
    assert_eq!(
        (
            b["dataset"]["shape"].clone(),
            b["dataset"]["train_per_class"].clone(),
            b["dataset"]["test_per_class"].clone()
        ),
        (json!([1, 8, 8]), json!([6, 6, 6]), json!([2, 2, 2])),
        "{b}"
    );
    // A plain tar of BMP files.
    let bmp = folder("", &["train/", "test/"], 2, 3, ImageCodec::Bmp);
    let (code, b) = app
        .upload("name=bmp", tar_bytes(&bmp, &[]).expect("tar"))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{b}");
    assert_eq!(
        b["dataset"]["source"].as_str().map(|s| s.contains("tar")),
        Some(true),
        "{b}"
    );
    // An .npz of 8-bit images (N, H, W) and integer labels.
    let (n, side) = (20usize, 6usize);
    let x: Vec<u8> = (0..n * side * side).map(|i| (i * 7 % 251) as u8).collect();
    let y: Vec<i64> = (0..n as i64).map(|i| i % 2).collect();
    let npz = zip_bytes(&[
        (
            "x.npy".to_owned(),
            datasets::testgen::npy_bytes("|u1", &[n, side, side], &x, false),
        ),
        ("y.npy".to_owned(), datasets::testgen::npy_i64(&[n], &y)),
    ])
    .expect("npz");
    let (code, b) = app
        .upload("name=arrays&file_name=arrays.npz&held_out=0.5", npz)
        .await;
    assert_eq!(code, StatusCode::CREATED, "{b}");
    assert_eq!(
        (
            b["dataset"]["shape"].clone(),
            b["dataset"]["class_names"].as_array().map(Vec::len)
        ),
        (json!([1, 6, 6]), Some(2)),
        "{b}"
    );
    // A CSV table: numeric features and a named label column of strings.
    let mut csv = String::from("petal,sepal,species\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "{}.5,{},{}\n",
            i % 7,
            i % 5,
            ["setosa", "virginica"][i % 2]
        ));
    }
    let (code, b) = app
        .upload(
            "name=iris&file_name=iris.csv&label_column=species",
            csv.into_bytes(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{b}");
    assert_eq!(
        (
            b["dataset"]["kind"].clone(),
            b["dataset"]["shape"].clone(),
            b["dataset"]["class_names"].clone()
        ),
        (
            json!("features"),
            json!([1, 1, 2]),
            json!(["setosa", "virginica"])
        ),
        "{b}"
    );
    assert_eq!(
        app.registered_names().await,
        ["arrays", "bmp", "gray", "iris"]
    );
    // NumPy pairs come from a folder on the server's disk (the CLI's door).
    let dir = app.dir.path().join("pairs");
    datasets::testgen::write_files(
        &dir,
        &[
            (
                "x.npy".to_owned(),
                datasets::testgen::npy_f32(
                    &[12, 3],
                    &(0..36).map(|v| v as f32 / 10.0).collect::<Vec<_>>(),
                ),
            ),
            (
                "y.npy".to_owned(),
                datasets::testgen::npy_i64(&[12], &(0..12).map(|i| i % 3).collect::<Vec<_>>()),
            ),
        ],
    )
    .expect("npy pair");
    let got = app
        .runs
        .registry()
        .register(
            "pairs",
            &dir,
            crate::registry::RegisterOptions {
                held_out: Some(0.34),
                ..Default::default()
            },
            &datasets::ImportLimits::default(),
            "pairs",
        )
        .await
        .expect("db")
        .expect("registered");
    assert_eq!(
        (
            got.info.shape,
            got.info.class_names.len(),
            got.info.kind.as_str()
        ),
        ([1, 1, 3], 3, "features")
    );
}

/// Every bad upload is a 422 at `file` (or the option it concerns) and leaves nothing behind.
#[tokio::test]
async fn bad_uploads_are_refused_at_their_field_and_leave_nothing_behind() {
    let app = TestApp::new().await;
    let good = folder("", &["train/", "test/"], 2, 3, ImageCodec::Png);
    let mut corrupt = good.clone();
    corrupt.push((
        "train/star/broken.png".into(),
        b"not an image at all".to_vec(),
    ));
    let mut missing_test: Files = good
        .iter()
        .filter(|(n, _)| !n.starts_with("test/star/"))
        .cloned()
        .collect();
    missing_test.sort();
    let raw = |name: &str, kind: tar::EntryType, link: Option<&str>| RawTarEntry {
        name: name.into(),
        kind,
        data: if kind == tar::EntryType::Regular {
            b"x".to_vec()
        } else {
            Vec::new()
        },
        link: link.map(str::to_owned),
    };
    let hostile = |e: RawTarEntry| gzip(&tar_bytes(&good, &[e]).expect("tar"));
    let full = tgz(&good);
    let nan_npz = zip_bytes(&[
        (
            "x.npy".to_owned(),
            datasets::testgen::npy_f32(&[4, 2], &[0.0, 1.0, f32::NAN, 2.0, 1.0, 1.0, 0.5, 0.5]),
        ),
        (
            "y.npy".to_owned(),
            datasets::testgen::npy_i64(&[4], &[0, 1, 0, 1]),
        ),
    ])
    .expect("npz");
    let negative_npz = zip_bytes(&[
        (
            "x.npy".to_owned(),
            datasets::testgen::npy_f32(&[4, 2], &[0.0; 8]),
        ),
        (
            "y.npy".to_owned(),
            datasets::testgen::npy_i64(&[4], &[0, 1, -1, 1]),
        ),
    ])
    .expect("npz");
    let cases: Vec<(&str, &str, Vec<u8>, &str, &str)> = vec![
        (
            "a corrupt image",
            "name=c",
            tgz(&corrupt),
            "file",
            "broken.png",
        ),
        (
            "a class missing from the test split",
            "name=c",
            tgz(&missing_test),
            "file",
            "star",
        ),
        (
            "an empty class",
            "name=c",
            gzip(
                &tar_bytes(
                    &good,
                    &[raw("train/empty/", tar::EntryType::Directory, None)],
                )
                .expect("tar"),
            ),
            "file",
            "empty",
        ),
        (
            "a `../` entry",
            "name=c",
            hostile(raw("../evil.png", tar::EntryType::Regular, None)),
            "file",
            "../evil.png",
        ),
        (
            "an absolute path",
            "name=c",
            hostile(raw("/etc/evil.png", tar::EntryType::Regular, None)),
            "file",
            "/etc/evil.png",
        ),
        (
            "a symbolic link",
            "name=c",
            hostile(raw(
                "train/star/link.png",
                tar::EntryType::Symlink,
                Some("/etc/passwd"),
            )),
            "file",
            "link.png",
        ),
        (
            "a cut-off archive",
            "name=c",
            full[..full.len() / 2].to_vec(),
            "file",
            "",
        ),
        (
            "NaN values",
            "name=c&file_name=x.npz&held_out=0.5",
            nan_npz,
            "file",
            "NaN",
        ),
        (
            "a negative label",
            "name=c&file_name=x.npz&held_out=0.5",
            negative_npz,
            "file",
            "-1",
        ),
        (
            "a missing label column",
            "name=c&file_name=t.csv",
            b"a,b\n1,2\n3,4\n".to_vec(),
            "file",
            "a, b",
        ),
        ("a bad name", "name=../up", tgz(&good), "name", "letters"),
        (
            "a built-in name",
            "name=cifar10",
            tgz(&good),
            "name",
            "built-in",
        ),
        (
            "a bad held-out fraction",
            "name=c&held_out=1.5",
            tgz(&good),
            "held_out",
            "between 0 and 1",
        ),
        (
            "a bad resize",
            "name=c&resize=big",
            tgz(&good),
            "resize",
            "WIDTHxHEIGHT",
        ),
        ("an empty upload", "name=c", Vec::new(), "file", "empty"),
    ];
    for (what, query, bytes, field, needle) in cases {
        let (code, body) = app.upload(query, bytes).await;
        let (f, message) = refusal(code, &body);
        assert_eq!(f, field, "{what}: {body}");
        assert!(
            message.contains(needle),
            "{what}: {message:?} should name {needle:?}"
        );
        assert!(
            app.registered_names().await.is_empty(),
            "{what} left an entry"
        );
        assert!(
            app.registry_files().is_empty(),
            "{what} left {:?}",
            app.registry_files()
        );
    }
}

#[tokio::test]
async fn archives_past_the_limits_and_bodies_past_the_cap_or_cut_off_are_refused() {
    let limits = crate::registry::RegistryLimits {
        import: datasets::ImportLimits {
            max_files: 10,
            max_unpacked_bytes: 1 << 20,
        },
        max_upload_bytes: 64 * 1024,
    };
    let app = TestApp::with_dataset_limits(limits).await;
    let many = folder("", &["train/", "test/"], 2, 3, ImageCodec::Png); // 12 files
    let (code, body) = app.upload("name=many", tgz(&many)).await;
    let (f, message) = refusal(code, &body);
    assert_eq!(f, "file");
    assert!(message.contains("10"), "{message}");
    // A gzip bomb: small on the wire, past the unpacked bytes once read.
    let bomb = gzip(
        &tar_bytes(&[("train/a/zeros.png".to_owned(), vec![0u8; 2 << 20])], &[]).expect("tar"),
    );
    assert!(bomb.len() < 64 * 1024);
    let (code, body) = app.upload("name=bomb", bomb).await;
    let (f, message) = refusal(code, &body);
    assert_eq!(f, "file", "{message}");
    // Declared beyond the cap: 413 before a byte is read.
    let req = Request::post("/api/datasets?name=big")
        .header(header::CONTENT_LENGTH, 10 << 20)
        .body(Body::empty())
        .expect("request");
    let (code, body) = app.call(req).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // Cut off: fewer bytes than declared.
    let req = Request::post("/api/datasets?name=cut")
        .header(header::CONTENT_LENGTH, 5000)
        .body(Body::from(vec![0x1f, 0x8b, 8, 0]))
        .expect("request");
    let (code, body) = app.call(req).await;
    let (f, message) = refusal(code, &body);
    assert_eq!(f, "file");
    assert!(message.contains("broke off"), "{message}");
    assert!(app.registered_names().await.is_empty());
    assert!(
        app.registry_files().is_empty(),
        "{:?}",
        app.registry_files()
    );
}

#[tokio::test]
async fn writes_need_the_admin_token_where_one_is_required() {
    let token = super::random_token();
    let app = TestApp::with_token(&token).await;
    let (code, _) = app
        .upload(
            "name=shapes",
            tgz(&folder("", &["train/", "test/"], 2, 3, ImageCodec::Png)),
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let req = Request::delete("/api/datasets/shapes")
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.call(req).await.0, StatusCode::UNAUTHORIZED);
    assert!(app.registry_files().is_empty());
}

#[tokio::test]
async fn runs_train_on_an_uploaded_dataset_pinned_by_hash_which_then_cannot_be_deleted() {
    let app = TestApp::new().await;
    let files = folder("", &["train/", "test/"], 6, 3, ImageCodec::Png);
    let (code, up) = app.upload("name=shapes", tgz(&files)).await;
    assert_eq!(code, StatusCode::CREATED, "{up}");
    let hash = up["dataset"]["hash"].clone();
    let main = json!({
        "experiment": {"kind": "net", "dataset": {"registered": {"name": "shapes"}},
                       "train_per_class": 5, "augment": true,
                       "model": {"kind": "small_cnn"}, "loss": "cross_entropy",
                       "optimizer": {"kind": "sgd", "momentum": 0.9},
                       "batch": 5, "epochs": 2},
        "schedule": {"kind": "constant", "lr": 0.05},
        "seed": 3
    });
    let sweep = json!({"name": "on shapes", "main": main, "branch_at": [1],
                       "after": {"kind": "constant", "lr": 0.005}, "branch_length": 1, "seeds": [3, 4]});
    let (code, body) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let runs = super::sweeps::ids(&body);
    assert_eq!(runs.len(), 4);
    assert!(app.finish_all(&runs).await.iter().all(|s| s == "completed"));
    // Each run names exactly the data it trained on, with the registry's facts.
    let (_, run) = app.get(&format!("/api/runs/{}", runs[0])).await;
    let pinned = &run["spec"]["experiment"]["dataset"]["registered"];
    assert_eq!(
        (
            pinned["hash"].clone(),
            pinned["facts"]["classes"].clone(),
            pinned["facts"]["shape"].clone()
        ),
        (hash, json!(3), json!([3, 8, 8])),
        "{run}"
    );
    let (_, m) = app.get(&format!("/api/runs/{}/metrics", runs[0])).await;
    assert!(m.as_array().is_some_and(|rows| !rows.is_empty()), "{m}");
    // Deleting it now would orphan those results.
    let req = Request::delete("/api/datasets/shapes")
        .body(Body::empty())
        .expect("request");
    let (code, body) = app.call(req).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("#{}", runs[0]))),
        "{body}"
    );
    // A name nobody registered is refused at the dataset.
    let unknown = json!({"experiment": {"kind": "net", "dataset": {"registered": {"name": "nope"}},
                          "model": {"kind": "small_cnn"}, "loss": "cross_entropy",
                          "optimizer": {"kind": "sgd"}, "batch": 5, "epochs": 1},
                         "schedule": {"kind": "constant", "lr": 0.05}});
    let (code, body) = app.post_json("/api/runs", &unknown.to_string()).await;
    let (f, message) = refusal(code, &body);
    assert_eq!(f, "experiment.dataset");
    assert!(message.contains("nope"), "{message}");
}

#[tokio::test]
async fn an_unused_dataset_is_deleted_with_its_file() {
    let app = TestApp::new().await;
    let (code, _) = app
        .upload(
            "name=gone",
            tgz(&folder("", &["train/", "test/"], 2, 3, ImageCodec::Png)),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let req = Request::delete("/api/datasets/gone")
        .body(Body::empty())
        .expect("request");
    let (code, body) = app.call(req).await;
    assert_eq!(
        (code, body),
        (StatusCode::OK, json!({"name": "gone", "versions": 1}))
    );
    assert!(
        app.registry_files().is_empty(),
        "{:?}",
        app.registry_files()
    );
    assert_eq!(app.get("/api/datasets/gone").await.0, StatusCode::NOT_FOUND);
    let req = Request::delete("/api/datasets/cifar10")
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.call(req).await.0, StatusCode::NOT_FOUND);
}
