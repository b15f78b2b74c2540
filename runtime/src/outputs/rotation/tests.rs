use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use serde_json::{Map, Value, json};

use super::*;

fn at(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).unwrap()
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn rotation(value: Value) -> Result<RotationPolicy, SettingsError> {
    RotationPolicy::from_settings(&obj(value))
}

fn retention(value: Value) -> Result<RetentionPolicy, SettingsError> {
    RetentionPolicy::from_settings(&obj(value))
}

fn rotation_err(value: Value) -> SettingsError {
    rotation(value).unwrap_err()
}

const H: u64 = 3600;

// ---- settings ----

#[test]
fn seed_example_rotates_at_midnight_and_keeps_sixty_files() {
    let config = json!({
        "name": "json", "logDirectory": "/tmp/logs", "topics": ["access"],
        "fileRotation": {"rotationEnabled": true, "rotationTimes": ["0 hours"]},
        "fileRetention": {"maxNumberOfHistoryFiles": 60}
    });
    let policy = rotation(config.clone()).unwrap();
    assert_eq!(policy, RotationPolicy { enabled: true, times: vec![Duration::ZERO], ..RotationPolicy::default() });
    assert_eq!(policy.suffix, "-yyyy.MM.dd-HH.mm.ss");
    assert_eq!(policy.check_interval, Duration::from_secs(5));
    assert!(policy.is_time_based() && !policy.gzip());
    let keep = retention(config).unwrap();
    assert_eq!(keep, RetentionPolicy { max_history_files: Some(60), ..Default::default() });
    assert!(keep.is_enabled());
}

#[test]
fn every_setting_as_strings() {
    let config = json!({
        "fileRotation": {
            "rotationEnabled": "true",
            "maxFileSize": "1048576",
            "rotationFilePrefix": "old-",
            "rotationFileSuffix": "-yyyyMMdd'.gz'",
            "rotationInterval": "6 hours",
            "rotationTimes": ["12 hours", "6 hours", "6 hours"]
        },
        "fileRetention": {
            "maxNumberOfHistoryFiles": "5",
            "maxDiskSpaceToUse": "1 GiB",
            "minFreeSpaceRequired": "1048576",
            "rotationRetentionCheckInterval": "1 m"
        }
    });
    let policy = rotation(config.clone()).unwrap();
    assert_eq!(
        policy,
        RotationPolicy {
            enabled: true,
            max_file_size: Some(1_048_576),
            prefix: "old-".into(),
            suffix: "-yyyyMMdd'.gz'".into(),
            interval: Some(Duration::from_secs(6 * H)),
            times: vec![Duration::from_secs(6 * H), Duration::from_secs(12 * H)],
            check_interval: Duration::from_secs(60),
        }
    );
    assert!(policy.gzip());
    assert_eq!(
        retention(config).unwrap(),
        RetentionPolicy { max_history_files: Some(5), max_disk_space: Some(1 << 30), min_free_space: Some(1_048_576) }
    );
}

#[test]
fn native_json_types_and_units() {
    let config = json!({
        "fileRotation": {"rotationEnabled": false, "maxFileSize": 2048, "rotationInterval": 100, "rotationTimes": []},
        "rotationRetentionCheckInterval": "10 seconds",
        "fileRetention": {"maxDiskSpaceToUse": 4096, "minFreeSpaceRequired": 10}
    });
    let policy = rotation(config.clone()).unwrap();
    assert!(!policy.enabled);
    assert_eq!(policy.max_file_size, Some(2048));
    assert_eq!(policy.interval, Some(Duration::from_millis(100)));
    assert!(policy.times.is_empty());
    assert_eq!(policy.check_interval, Duration::from_secs(10));
    assert!(!policy.is_time_based(), "rotation is disabled");
    let keep = retention(config).unwrap();
    assert_eq!((keep.max_history_files, keep.max_disk_space, keep.min_free_space), (None, Some(4096), Some(10)));
    assert_eq!(rotation(json!({"fileRotation": {"rotationInterval": "100 ms"}})).unwrap().interval, Some(Duration::from_millis(100)));
    assert_eq!(rotation(json!({"fileRotation": {"rotationInterval": "1 m"}})).unwrap().interval, Some(Duration::from_secs(60)));
    assert_eq!(rotation(json!({"fileRotation": {"maxFileSize": "64 MiB"}})).unwrap().max_file_size, Some(64 << 20));
}

#[test]
fn absent_or_null_settings_take_the_defaults() {
    assert_eq!(rotation(json!({})).unwrap(), RotationPolicy::default());
    assert_eq!(rotation(json!({"fileRotation": null, "fileRetention": {}})).unwrap(), RotationPolicy::default());
    assert_eq!(rotation(json!({"fileRotation": {"maxFileSize": null}})).unwrap(), RotationPolicy::default());
    let keep = retention(json!({"fileRetention": null})).unwrap();
    assert_eq!(keep, RetentionPolicy::default());
    assert!(!keep.is_enabled());
}

#[test]
fn disabled_interval() {
    for off in ["disabled", "DISABLED", "off", "never"] {
        let policy = rotation(json!({"fileRotation": {"rotationEnabled": true, "rotationInterval": off}})).unwrap();
        assert_eq!(policy.interval, None, "{off}");
        assert!(!policy.is_time_based());
    }
}

#[test]
fn zero_and_negative_numbers_turn_policies_off() {
    for off in [json!(0), json!(-1), json!("0"), json!("-1"), json!(-5)] {
        let policy = rotation(json!({"fileRotation": {"maxFileSize": off.clone()}})).unwrap();
        assert_eq!(policy.max_file_size, None, "{off}");
        let keep = retention(json!({"fileRetention": {
            "maxNumberOfHistoryFiles": off.clone(), "maxDiskSpaceToUse": off.clone(), "minFreeSpaceRequired": off.clone()
        }}))
        .unwrap();
        assert_eq!(keep, RetentionPolicy::default(), "{off}");
        assert!(!keep.is_enabled());
    }
    let keep = retention(json!({"fileRetention": {"maxNumberOfHistoryFiles": 1}})).unwrap();
    assert_eq!(keep.max_history_files, Some(1));
}

#[test]
fn zero_interval_is_an_error() {
    for zero in [json!("0"), json!(0), json!("0 seconds"), json!("zero"), json!("0 ms")] {
        let err = rotation_err(json!({"fileRotation": {"rotationInterval": zero.clone()}}));
        assert_eq!(err.path, "fileRotation.rotationInterval", "{zero}");
        assert!(err.message.contains("must not be zero"), "{zero}: {err}");
    }
}

#[test]
fn rotation_times_must_be_times_of_day() {
    let err = rotation_err(json!({"fileRotation": {"rotationTimes": ["6 hours", "24 hours"]}}));
    assert_eq!(err.path, "fileRotation.rotationTimes[1]");
    assert!(err.message.contains("less than 24 hours"), "{err}");
    let err = rotation_err(json!({"fileRotation": {"rotationTimes": ["25 hours"]}}));
    assert_eq!(err.path, "fileRotation.rotationTimes[0]");
    let err = rotation_err(json!({"fileRotation": {"rotationTimes": ["6 hours", "soon"]}}));
    assert_eq!(err.path, "fileRotation.rotationTimes[1]");
    assert!(err.message.contains("not a duration"), "{err}");
    let err = rotation_err(json!({"fileRotation": {"rotationTimes": "6 hours"}}));
    assert_eq!(err.path, "fileRotation.rotationTimes");
    assert!(err.message.contains("expected an array"), "{err}");
    let ok = rotation(json!({"fileRotation": {"rotationTimes": ["23 hours", "1439 m", "0 hours"]}})).unwrap();
    assert_eq!(ok.times, [0, 23 * H, 1439 * 60].map(Duration::from_secs));
}

#[test]
fn bad_suffix_names_the_letters() {
    let err = rotation_err(json!({"fileRotation": {"rotationFileSuffix": "-yyyy.MMM.dd"}}));
    assert_eq!(err.path, "fileRotation.rotationFileSuffix");
    assert!(err.message.contains("`MMM`"), "{err}");
    let err = rotation_err(json!({"fileRotation": {"rotationFileSuffix": "-EEE"}}));
    assert!(err.message.contains("`EEE`"), "{err}");
    let err = rotation_err(json!({"fileRotation": {"rotationFileSuffix": "/yyyy"}}));
    assert!(err.message.contains('/'), "{err}");
    let err = rotation_err(json!({"fileRotation": {"rotationFileSuffix": ""}}));
    assert!(err.message.contains("must not be empty"), "{err}");
    assert!(rotation(json!({"fileRotation": {"rotationFileSuffix": "", "rotationFilePrefix": "old-"}})).is_ok());
    let err = rotation_err(json!({"fileRotation": {"rotationFilePrefix": "../x"}}));
    assert_eq!(err.path, "fileRotation.rotationFilePrefix");
    let err = rotation_err(json!({"fileRotation": {"rotationFileSuffix": 7}}));
    assert!(err.message.contains("expected a string"), "{err}");
}

#[test]
fn unknown_keys_are_named() {
    let err = rotation_err(json!({"fileRotation": {"rotationEnabled": true, "rotationIntervall": "1 h"}}));
    assert_eq!(err.path, "fileRotation.rotationIntervall");
    assert!(err.message.contains("unknown setting") && err.message.contains("rotationInterval"), "{err}");
    assert_eq!(err.to_string(), format!("fileRotation.rotationIntervall: {}", err.message));
    let err = retention(json!({"fileRetention": {"maxHistoryFiles": 3}})).unwrap_err();
    assert_eq!(err.path, "fileRetention.maxHistoryFiles");
    // Keys outside the two sections belong to the handler, not to us.
    assert!(rotation(json!({"buffering": {"maxSize": 10}, "elasticsearchCompatible": true})).is_ok());
}

#[test]
fn wrong_types_and_values() {
    let err = rotation_err(json!({"fileRotation": {"rotationEnabled": "yes"}}));
    assert_eq!(err.path, "fileRotation.rotationEnabled");
    assert!(err.message.contains("not a boolean"), "{err}");
    let err = rotation_err(json!({"fileRotation": {"maxFileSize": "lots"}}));
    assert_eq!(err.path, "fileRotation.maxFileSize");
    let err = rotation_err(json!({"fileRotation": {"maxFileSize": 1.5}}));
    assert!(err.message.contains("not a whole number"), "{err}");
    let err = rotation_err(json!({"fileRotation": ["rotationEnabled"]}));
    assert_eq!((err.path.as_str(), err.message.as_str()), ("fileRotation", "expected an object, found an array"));
    let err = retention(json!({"fileRetention": {"maxNumberOfHistoryFiles": "64 MiB"}})).unwrap_err();
    assert_eq!(err.path, "fileRetention.maxNumberOfHistoryFiles");
}

#[test]
fn check_interval_in_either_place() {
    let inside = rotation(json!({"fileRetention": {"rotationRetentionCheckInterval": "5 minutes"}})).unwrap();
    assert_eq!(inside.check_interval, Duration::from_secs(300));
    let both = json!({"rotationRetentionCheckInterval": "5 s", "fileRetention": {"rotationRetentionCheckInterval": "5000"}});
    assert_eq!(rotation(both).unwrap().check_interval, Duration::from_secs(5));
    let err = rotation_err(json!({"rotationRetentionCheckInterval": "5 s", "fileRetention": {"rotationRetentionCheckInterval": "6 s"}}));
    assert_eq!(err.path, "fileRetention.rotationRetentionCheckInterval");
    let err = rotation_err(json!({"rotationRetentionCheckInterval": "0 s"}));
    assert_eq!((err.path.as_str(), err.message.as_str()), ("rotationRetentionCheckInterval", "must not be zero"));
    let err = rotation_err(json!({"rotationRetentionCheckInterval": "disabled"}));
    assert!(err.message.contains("not a duration"), "{err}");
}

// ---- naming ----

#[test]
fn formats_a_fixed_instant() {
    let t = at("2026-11-22T06:05:04.321Z");
    assert_eq!(format_suffix(DEFAULT_SUFFIX, t), "-2026.11.22-06.05.04");
    assert_eq!(format_suffix("yyMMdd", t), "261122");
    assert_eq!(format_suffix("HHmmss.SSS", t), "060504.321");
    assert_eq!(format_suffix("'T'HH''mm", t), "T06'05");
    assert_eq!(format_suffix("'it''s' yyyy", t), "it's 2026");
    assert_eq!(format_suffix("'yyyy'-yyyy", t), "yyyy-2026");
    assert_eq!(format_suffix("-yyyy.MM.dd.gz", t), "-2026.11.22.gz");
    assert_eq!(format_suffix("_yyyy-MM-dd_HH:mm", t), "_2026-11-22_06:05");
}

#[test]
fn formats_calendar_edges() {
    let full = "yyyy-MM-dd HH:mm:ss.SSS";
    assert_eq!(format_suffix(full, at("2024-02-29T23:59:59.999Z")), "2024-02-29 23:59:59.999");
    assert_eq!(format_suffix(full, UNIX_EPOCH), "1970-01-01 00:00:00.000");
    assert_eq!(format_suffix(full, UNIX_EPOCH - Duration::from_millis(1)), "1969-12-31 23:59:59.999");
    // 2100 is not a leap year; 2000 was.
    let feb28 = at("2100-02-28T12:00:00Z");
    assert_eq!(format_suffix(full, feb28 + Duration::from_secs(24 * H)), "2100-03-01 12:00:00.000");
    assert_eq!(format_suffix("yy", feb28), "00");
    assert_eq!(format_suffix(full, at("2000-02-28T12:00:00Z") + Duration::from_secs(24 * H)), "2000-02-29 12:00:00.000");
    assert_eq!(format_suffix(full, at("2026-12-31T23:59:59Z") + Duration::from_secs(1)), "2027-01-01 00:00:00.000");
}

#[test]
fn formatting_agrees_with_humantime_over_centuries() {
    let pattern = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'";
    let mut t = UNIX_EPOCH;
    // Steps that are prime-ish so every month, day and hour gets visited.
    while t < at("2500-01-01T00:00:00Z") {
        assert_eq!(format_suffix(pattern, t), humantime::format_rfc3339_millis(t).to_string());
        t += Duration::from_millis(1_000_003 * 997 + 17);
    }
    for days in (-800_000..800_000).step_by(997) {
        assert_eq!(naming::civil_roundtrip(days), days);
    }
}

#[test]
fn validates_suffix_patterns() {
    for ok in [DEFAULT_SUFFIX, "-yyyyMMdd.gz", "-yyyy'.gz'", "'x''y'", "yy.SSS", "", "-"] {
        assert_eq!(validate_suffix(ok), Ok(()), "{ok}");
    }
    for (bad, named) in [("-yyyy.MMM", "`MMM`"), ("-hh", "`hh`"), ("-yyy", "`yyy`"), ("-a", "`a`"), ("'open", "unterminated")] {
        let err = validate_suffix(bad).unwrap_err();
        assert!(err.contains(named), "{bad}: {err}");
    }
    assert!(validate_suffix("yyyy/MM").unwrap_err().contains('/'));
    assert!(validate_suffix("-yyyy.gzip").is_err(), "only a final `.gz` is text");
}

fn enabled(suffix: &str) -> RotationPolicy {
    RotationPolicy { enabled: true, suffix: suffix.into(), ..RotationPolicy::default() }
}

#[test]
fn archive_names_with_collisions_and_gzip() {
    let t = at("2026-11-22T10:00:00.250Z");
    let live = "access.audit.json";
    let plain = enabled(DEFAULT_SUFFIX);
    assert_eq!(archive_name(live, &plain, t, None, |_| false), "access.audit.json-2026.11.22-10.00.00");
    let taken = ["access.audit.json-2026.11.22-10.00.00", "access.audit.json-2026.11.22-10.00.00.1"];
    assert_eq!(archive_name(live, &plain, t, None, |n| taken[..1].contains(&n)), "access.audit.json-2026.11.22-10.00.00.1");
    assert_eq!(archive_name(live, &plain, t, None, |n| taken.contains(&n)), "access.audit.json-2026.11.22-10.00.00.2");

    let gz = enabled("-yyyy.MM.dd-HH.mm.ss.gz");
    assert!(gz.gzip());
    assert_eq!(archive_name(live, &gz, t, None, |_| false), "access.audit.json-2026.11.22-10.00.00.gz");
    let taken = ["access.audit.json-2026.11.22-10.00.00.gz"];
    assert_eq!(archive_name(live, &gz, t, None, |n| taken.contains(&n)), "access.audit.json-2026.11.22-10.00.00.1.gz");

    let prefixed = RotationPolicy { prefix: "old-".into(), ..enabled("-yyyyMMdd") };
    assert_eq!(archive_name(live, &prefixed, t, None, |_| false), "old-access.audit.json-20261122");
    assert_eq!(archive_name("logs/access.audit.json", &prefixed, t, None, |_| false), "logs/old-access.audit.json-20261122");

    // A suffix without date fields relies on the counter.
    let fixed = enabled(".old");
    assert_eq!(archive_name(live, &fixed, t, None, |n| n == "access.audit.json.old"), "access.audit.json.old.1");
    // A prefix alone would never give the live file's name, nor would an empty stem.
    let only_gz = enabled(".gz");
    assert_eq!(archive_name(live, &only_gz, t, None, |_| false), "access.audit.json.gz");
}

fn temp_dir() -> (tempfile::TempDir, Dir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
    (tmp, dir)
}

fn names(archives: &[Archive]) -> Vec<&str> {
    archives.iter().map(|a| a.name.as_str()).collect()
}

#[test]
fn lists_archives_oldest_first() {
    let (_tmp, dir) = temp_dir();
    let live = "access.audit.json";
    let files = [
        (live, "live"),
        ("access.audit.json-2026.11.22-10.00.00.1", "third"),
        ("access.audit.json-2026.11.23-00.00.00.gz", "fourth"),
        ("access.audit.json-2025.01.01-00.00.00", "first"),
        ("access.audit.json-2026.11.22-10.00.00", "second"),
        ("access.audit.json-2026.11.23-00.00.00.2.gz", "fifth"),
        // Not archives of `live` under this pattern:
        ("access.audit.json.bak", "x"),
        ("access.audit.json-2026.13.01-00.00.00", "bad month"),
        ("access.audit.json-2026.02.30-00.00.00", "bad day"),
        ("access.audit.json-2026.11.22-10.00.00.x", "x"),
        ("access.audit.json-2026.11.22-10.00.00.", "x"),
        ("access.audit.json-2026.11.22-10.00", "short"),
        ("authentication.audit.json-2026.11.22-10.00.00", "other file"),
        ("old-access.audit.json-2026.11.22-10.00.00", "other prefix"),
        (".access.audit.json-2026.11.22-10.00.00.gz.0.tmp", "temporary"),
    ];
    for (name, content) in files {
        dir.write(name, content).unwrap();
    }
    dir.create_dir("access.audit.json-2026.11.24-00.00.00").unwrap();
    let policy = enabled(DEFAULT_SUFFIX);
    let found = list_archives(&dir, live, &policy).unwrap();
    assert_eq!(
        names(&found),
        [
            "access.audit.json-2025.01.01-00.00.00",
            "access.audit.json-2026.11.22-10.00.00",
            "access.audit.json-2026.11.22-10.00.00.1",
            "access.audit.json-2026.11.23-00.00.00.gz",
            "access.audit.json-2026.11.23-00.00.00.2.gz",
        ]
    );
    assert_eq!(found[0].len, "first".len() as u64);
    assert_eq!(found[0].time, at("2025-01-01T00:00:00Z"));
    assert_eq!(found[4].time, at("2026-11-23T00:00:00Z"));
}

#[test]
fn archive_names_are_never_reused_and_sort_after_the_previous_one() {
    let live = "access.audit.json";
    let plain = enabled("-yyyy.MM.dd-HH.mm.ss");
    let t = at("2026-11-22T10:00:00.400Z");
    // `.1` was made last and retention deleted both: the next is `.2`, not the freed name.
    let previous = "access.audit.json-2026.11.22-10.00.00.1";
    assert_eq!(archive_name(live, &plain, t, Some(previous), |_| false), "access.audit.json-2026.11.22-10.00.00.2");
    // A later second starts afresh.
    assert_eq!(archive_name(live, &plain, at("2026-11-22T10:00:01Z"), Some(previous), |_| false), "access.audit.json-2026.11.22-10.00.01");
    // A clock that stepped back takes the previous archive's time, next counter.
    assert_eq!(
        archive_name(live, &plain, at("2026-11-22T09:59:58Z"), Some(previous), |_| false),
        "access.audit.json-2026.11.22-10.00.00.2"
    );
    let gz = enabled("-yyyy.MM.dd-HH.mm.ss.gz");
    assert_eq!(
        archive_name(live, &gz, t, Some("access.audit.json-2026.11.22-10.00.00.gz"), |_| false),
        "access.audit.json-2026.11.22-10.00.00.1.gz"
    );
}

#[test]
fn listed_archives_round_trip_archive_names() {
    let (_tmp, dir) = temp_dir();
    dir.create_dir("logs").unwrap();
    let live = "logs/audit.csv";
    let policy = RotationPolicy { prefix: "old-".into(), ..enabled("'.'yy-MM-dd'T'HHmmss.SSS.gz") };
    let times = [at("2026-11-22T10:00:00.250Z"), at("2099-01-01T00:00:00Z"), at("2026-11-22T10:00:00.250Z")];
    let mut made = Vec::new();
    for t in times {
        let name = archive_name(live, &policy, t, None, |n| dir.exists(n));
        dir.write(&name, "x").unwrap();
        made.push(name);
    }
    assert_eq!(made[0], "logs/old-audit.csv.26-11-22T100000.250.gz");
    assert_eq!(made[2], "logs/old-audit.csv.26-11-22T100000.250.1.gz");
    dir.write("logs/audit.csv", "live").unwrap();
    let found = list_archives(&dir, live, &policy).unwrap();
    assert_eq!(names(&found), [&made[0], &made[2], &made[1]]);
    assert_eq!(found.iter().map(|a| a.time).collect::<Vec<_>>(), [times[0], times[2], times[1]]);
    // Not compressed yet (rotated, then interrupted before gzip): still an archive.
    dir.write("logs/old-audit.csv.26-11-22T100000.250.2", "x").unwrap();
    let found = list_archives(&dir, live, &policy).unwrap();
    assert_eq!(names(&found)[2], "logs/old-audit.csv.26-11-22T100000.250.2");
}

#[test]
fn lists_nothing_in_an_empty_directory() {
    let (_tmp, dir) = temp_dir();
    assert!(list_archives(&dir, "a.json", &enabled(DEFAULT_SUFFIX)).unwrap().is_empty());
}

// ---- schedule ----

#[test]
fn interval_rotation_with_a_manual_clock() {
    let clock = ManualClock::new(at("2026-11-22T10:00:00Z"));
    let policy = RotationPolicy { interval: Some(Duration::from_secs(H)), ..enabled(DEFAULT_SUFFIX) };
    let opened = clock.now();
    assert_eq!(next_time_rotation(&policy, opened, clock.now()), Some(at("2026-11-22T11:00:00Z")));
    clock.advance(Duration::from_secs(H - 1));
    assert!(!due(&policy, opened, clock.now()));
    clock.advance(Duration::from_secs(1));
    assert!(due(&policy, opened, clock.now()));
    clock.set(at("2026-11-25T00:00:00Z"));
    assert!(due(&policy, opened, clock.now()), "a late check still rotates");
    // Clones share the time.
    let other = clock.clone();
    other.set(UNIX_EPOCH);
    assert_eq!(clock.now(), UNIX_EPOCH);
    let disabled = RotationPolicy { enabled: false, ..policy.clone() };
    assert_eq!(next_time_rotation(&disabled, opened, opened), None);
    assert!(!due(&disabled, opened, at("2030-01-01T00:00:00Z")));
    assert!(SystemClock.now() > at("2020-01-01T00:00:00Z"));
}

#[test]
fn rotation_times_of_day_cross_midnight() {
    let policy = RotationPolicy { times: vec![Duration::from_secs(6 * H), Duration::from_secs(12 * H)], ..enabled(DEFAULT_SUFFIX) };
    let next = |opened: &str| next_time_rotation(&policy, at(opened), at(opened));
    assert_eq!(next("2026-11-22T05:00:00Z"), Some(at("2026-11-22T06:00:00Z")));
    assert_eq!(next("2026-11-22T06:00:00Z"), Some(at("2026-11-22T12:00:00Z")), "strictly after");
    assert_eq!(next("2026-11-22T11:59:59.999Z"), Some(at("2026-11-22T12:00:00Z")));
    assert_eq!(next("2026-11-22T13:00:00Z"), Some(at("2026-11-23T06:00:00Z")));
    assert_eq!(next("2026-12-31T23:00:00Z"), Some(at("2027-01-01T06:00:00Z")));

    let midnight = RotationPolicy { times: vec![Duration::ZERO], ..policy.clone() };
    let clock = ManualClock::new(at("2026-11-22T23:59:59Z"));
    let opened = clock.now();
    assert_eq!(next_time_rotation(&midnight, opened, opened), Some(at("2026-11-23T00:00:00Z")));
    assert!(!due(&midnight, opened, clock.now()));
    clock.advance(Duration::from_secs(1));
    assert!(due(&midnight, opened, clock.now()));
    // A file started exactly at midnight waits for the next one.
    assert_eq!(next_time_rotation(&midnight, clock.now(), clock.now()), Some(at("2026-11-24T00:00:00Z")));

    // Interval and times together: whichever comes first.
    let both = RotationPolicy { interval: Some(Duration::from_secs(30 * 60)), ..policy.clone() };
    assert_eq!(next_time_rotation(&both, at("2026-11-22T05:50:00Z"), at("2026-11-22T05:50:00Z")), Some(at("2026-11-22T06:00:00Z")));
    assert_eq!(next_time_rotation(&both, at("2026-11-22T05:00:00Z"), at("2026-11-22T05:00:00Z")), Some(at("2026-11-22T05:30:00Z")));
    // Nothing scheduled.
    assert_eq!(next_time_rotation(&enabled(DEFAULT_SUFFIX), at("2026-11-22T05:00:00Z"), at("2026-11-22T05:00:00Z")), None);
}

#[test]
fn size_rotation_edges() {
    let policy = RotationPolicy { max_file_size: Some(100), ..enabled(DEFAULT_SUFFIX) };
    assert!(!size_due(&policy, 0, 500), "an oversized record goes alone into the empty file");
    assert!(!size_due(&policy, 0, 0));
    assert!(!size_due(&policy, 50, 50), "exactly the maximum fits");
    assert!(size_due(&policy, 50, 51));
    assert!(size_due(&policy, 1, 1000));
    assert!(size_due(&policy, 150, 0), "a file already past the maximum rotates");
    assert!(size_due(&policy, u64::MAX, u64::MAX));
    assert!(!size_due(&RotationPolicy { enabled: false, ..policy.clone() }, 50, 51));
    assert!(!size_due(&RotationPolicy { max_file_size: None, ..policy }, 50, u64::MAX));
}

// ---- retention ----

fn archives() -> Vec<Archive> {
    (0..5u64).map(|i| Archive { name: format!("a{i}"), len: (i + 1) * 10, time: UNIX_EPOCH + Duration::from_secs(i) }).collect()
}

fn keep(max_history_files: Option<u64>, max_disk_space: Option<u64>, min_free_space: Option<u64>) -> RetentionPolicy {
    RetentionPolicy { max_history_files, max_disk_space, min_free_space }
}

#[test]
fn retention_by_count() {
    let all = archives();
    assert_eq!(select_for_deletion(&all, 0, &keep(Some(3), None, None), None), ["a0", "a1"]);
    assert_eq!(select_for_deletion(&all, 0, &keep(Some(1), None, None), None), ["a0", "a1", "a2", "a3"]);
    assert!(select_for_deletion(&all, 0, &keep(Some(5), None, None), None).is_empty());
    assert!(select_for_deletion(&all, 0, &keep(Some(10), None, None), None).is_empty());
    assert!(select_for_deletion(&all, 1 << 40, &RetentionPolicy::default(), Some(0)).is_empty());
    assert!(select_for_deletion(&[], 0, &keep(Some(1), Some(1), Some(1)), Some(0)).is_empty());
}

#[test]
fn retention_by_disk_space_counts_the_live_file() {
    let all = archives(); // 10 + 20 + 30 + 40 + 50 = 150 bytes
    assert!(select_for_deletion(&all, 0, &keep(None, Some(150), None), None).is_empty());
    assert_eq!(select_for_deletion(&all, 1, &keep(None, Some(150), None), None), ["a0"]);
    assert_eq!(select_for_deletion(&all, 20, &keep(None, Some(150), None), None), ["a0", "a1"]);
    // Even the live file alone is too big: every archive goes, never the live file.
    assert_eq!(select_for_deletion(&all, 500, &keep(None, Some(100), None), None), ["a0", "a1", "a2", "a3", "a4"]);
}

#[test]
fn retention_by_free_space() {
    let all = archives();
    assert!(select_for_deletion(&all, 0, &keep(None, None, Some(130)), Some(130)).is_empty());
    assert_eq!(select_for_deletion(&all, 0, &keep(None, None, Some(130)), Some(100)), ["a0", "a1"]);
    assert_eq!(select_for_deletion(&all, 0, &keep(None, None, Some(131)), Some(100)), ["a0", "a1", "a2"]);
    assert_eq!(select_for_deletion(&all, 0, &keep(None, None, Some(10_000)), Some(0)).len(), 5, "never more than the archives");
    assert!(select_for_deletion(&all, 0, &keep(None, None, Some(10_000)), None).is_empty(), "unknown free space");
}

#[test]
fn retention_policies_add_up() {
    let all = archives();
    let policy = keep(Some(4), Some(150), Some(150));
    assert_eq!(select_for_deletion(&all, 0, &policy, Some(150)), ["a0"], "count alone");
    assert_eq!(select_for_deletion(&all, 20, &policy, Some(150)), ["a0", "a1"], "disk space wins");
    assert_eq!(select_for_deletion(&all, 20, &policy, Some(100)), ["a0", "a1", "a2"], "free space wins");
}

#[test]
fn free_space_of_a_real_directory() {
    let (_tmp, dir) = temp_dir();
    assert!(free_space(&dir).unwrap() > 0);
}

// ---- gzip ----

fn gunzip(dir: &Dir, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(dir.open(name).unwrap()).read_to_end(&mut out).unwrap();
    out
}

fn entries(dir: &Dir) -> Vec<String> {
    let mut names: Vec<String> = dir.entries().unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn gzip_round_trip() {
    let (_tmp, dir) = temp_dir();
    let data: Vec<u8> = (0..5000).flat_map(|i| format!("{{\"event\":{i},\"who\":\"alice\"}}\n").into_bytes()).collect();
    dir.write("a.json-1", &data).unwrap();
    let len = gzip_archive(&dir, "a.json-1", "a.json-1.gz").unwrap();
    assert_eq!(entries(&dir), ["a.json-1.gz"], "source removed, no temporary left");
    assert_eq!(dir.metadata("a.json-1.gz").unwrap().len(), len);
    assert!(len < data.len() as u64 / 5, "{len}");
    assert_eq!(gunzip(&dir, "a.json-1.gz"), data);

    dir.create_dir("logs").unwrap();
    dir.write("logs/empty", "").unwrap();
    gzip_archive(&dir, "logs/empty", "logs/empty.gz").unwrap();
    assert!(gunzip(&dir, "logs/empty.gz").is_empty());
    assert!(!dir.exists("logs/empty"));
}

#[test]
fn gzip_failures_leave_the_source_alone() {
    let (_tmp, dir) = temp_dir();
    dir.write("a", "data").unwrap();
    dir.write("a.gz", "earlier archive").unwrap();
    let err = gzip_archive(&dir, "a", "a.gz").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(dir.read_to_string("a.gz").unwrap(), "earlier archive");
    let err = gzip_archive(&dir, "a", "missing/a.gz").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(gzip_archive(&dir, "a", "a").unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(gzip_archive(&dir, "nothing", "nothing.gz").unwrap_err().kind(), std::io::ErrorKind::NotFound);
    assert_eq!(entries(&dir), ["a", "a.gz"]);
    assert_eq!(dir.read_to_string("a").unwrap(), "data");
}
