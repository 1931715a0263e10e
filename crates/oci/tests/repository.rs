//! The files Kubewarden's policy catalog takes from a policy repository besides the package:
//! LICENSE (the license metadata.yml and Cargo.toml name) and artifacthub-repo.yml (the owners,
//! the same as the policy's author).

mod common;

use native_sidecar_oci::Metadata;
use native_sidecar_oci::artifacthub::parse_maintainers;
use native_sidecar_oci::metadata::{ANNOTATION_AUTHOR, ANNOTATION_LICENSE};
use serde_json::{Value, json};

#[test]
fn license_is_the_apache_2_0_text_the_metadata_names() {
    let metadata = Metadata::from_yaml(&common::read("metadata.yml")).unwrap();
    assert_eq!(metadata.annotation(ANNOTATION_LICENSE), Some("Apache-2.0"));
    assert!(
        common::read("Cargo.toml").contains("\nlicense = \"Apache-2.0\"\n"),
        "Cargo.toml's workspace license"
    );
    let license = common::read("LICENSE");
    let words: Vec<&str> = license.split_whitespace().collect();
    assert_eq!(
        words[..5],
        ["Apache", "License", "Version", "2.0,", "January"],
        "LICENSE starts with the license's title"
    );
    // The whole text, not an excerpt: the nine sections and the appendix.
    for heading in [
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "1. Definitions.",
        "2. Grant of Copyright License.",
        "3. Grant of Patent License.",
        "4. Redistribution.",
        "5. Submission of Contributions.",
        "6. Trademarks.",
        "7. Disclaimer of Warranty.",
        "8. Limitation of Liability.",
        "9. Accepting Warranty or Additional Liability.",
        "END OF TERMS AND CONDITIONS",
        "APPENDIX: How to apply the Apache License to your work.",
    ] {
        assert!(license.contains(heading), "LICENSE lacks {heading:?}");
    }
}

#[test]
fn artifacthub_repo_names_the_policys_author_as_owner() {
    let metadata = Metadata::from_yaml(&common::read("metadata.yml")).unwrap();
    let author =
        parse_maintainers(metadata.annotation(ANNOTATION_AUTHOR).unwrap_or_default()).unwrap();
    let repo: Value = serde_yaml::from_str(&common::read("artifacthub-repo.yml")).unwrap();
    assert_eq!(
        repo,
        json!({"owners": serde_json::to_value(&author).unwrap()})
    );
}
