//! The portable diesel schema shared by SQLite and PostgreSQL.

diesel::table! {
    installation (id) {
        id -> Integer,
        installation_id -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    orgs (id) {
        id -> Text,
        name -> Text,
        require_totp -> Bool,
        created_at -> Text,
        redact_audio -> Text,
        analysis -> Text,
        retention -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        failed_logins -> Integer,
        locked_until -> Nullable<Text>,
        disabled -> Bool,
        password_changed_at -> Text,
        created_at -> Text,
        totp_secret -> Nullable<Text>,
        totp_pending -> Nullable<Text>,
        totp_last_step -> BigInt,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Text,
        user_id -> Text,
        code_hash -> Text,
        used_at -> Nullable<Text>,
    }
}

diesel::table! {
    memberships (org_id, user_id) {
        org_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        token_hash -> Text,
        user_id -> Text,
        org_id -> Text,
        created_at -> Text,
        last_seen_at -> Text,
        expires_at -> Text,
        ip -> Text,
        revoked -> Bool,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        role -> Text,
        token_hash -> Text,
        created_at -> Text,
        expires_at -> Text,
        revoked_at -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        chain -> Text,
        seq -> BigInt,
        at -> Text,
        actor -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> Text,
        ip -> Text,
        request_id -> Text,
        outcome -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    invites (id) {
        id -> Text,
        org_id -> Text,
        email -> Text,
        role -> Text,
        token_hash -> Text,
        created_by -> Text,
        created_at -> Text,
        expires_at -> Text,
        accepted_at -> Nullable<Text>,
        revoked_at -> Nullable<Text>,
    }
}

diesel::table! {
    conversations (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        source -> Text,
        external_id -> Nullable<Text>,
        content_sha256 -> Text,
        state -> Text,
        agent_user_id -> Nullable<Text>,
        direction -> Nullable<Text>,
        started_at -> Nullable<Text>,
        language -> Nullable<Text>,
        duration_seconds -> Nullable<Double>,
        channels -> Text,
        metadata -> Text,
        metrics -> Nullable<Text>,
        redactions -> Nullable<Text>,
        created_at -> Text,
        raw_purged_at -> Nullable<Text>,
        content_purged_at -> Nullable<Text>,
        processed_purged_at -> Nullable<Text>,
    }
}

diesel::table! {
    segments (id) {
        id -> Text,
        conversation_id -> Text,
        org_id -> Text,
        seq -> Integer,
        speaker -> Text,
        start_seconds -> Double,
        end_seconds -> Double,
        text -> Text,
        confidence -> Double,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        org_id -> Text,
        conversation_id -> Text,
        state -> Text,
        stage -> Text,
        progress -> Integer,
        attempts -> Integer,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Text>,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
        finished_at -> Nullable<Text>,
        kind -> Text,
        params -> Nullable<Text>,
        batch_id -> Nullable<Text>,
    }
}

diesel::table! {
    trackers (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        phrases -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    tracker_hits (id) {
        id -> Text,
        org_id -> Text,
        conversation_id -> Text,
        tracker_id -> Text,
        phrase -> Text,
        speaker -> Text,
        start_seconds -> Double,
    }
}

diesel::table! {
    org_keys (id) {
        id -> Text,
        org_id -> Text,
        purpose -> Text,
        version -> Integer,
        master_id -> Text,
        wrapped -> Nullable<Text>,
        state -> Text,
        created_at -> Text,
        destroyed_at -> Nullable<Text>,
    }
}

diesel::table! {
    key_rotations (id) {
        id -> Text,
        org_id -> Text,
        to_version -> Integer,
        state -> Text,
        done -> Integer,
        total -> Integer,
        started_at -> Text,
        finished_at -> Nullable<Text>,
    }
}

diesel::table! {
    blind_index (conversation_id, tag) {
        org_id -> Text,
        conversation_id -> Text,
        tag -> Text,
    }
}

diesel::table! {
    integrations (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        name -> Text,
        settings -> Text,
        credential_names -> Text,
        credentials -> Text,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    templates (id) {
        id -> Text,
        org_id -> Text,
        template_id -> Text,
        kind -> Text,
        version -> Integer,
        name -> Text,
        definition -> Text,
        created_by -> Nullable<Text>,
        created_at -> Text,
        retired_at -> Nullable<Text>,
    }
}

diesel::table! {
    analyses (id) {
        id -> Text,
        org_id -> Text,
        conversation_id -> Text,
        state -> Text,
        reason_code -> Nullable<Text>,
        reason -> Nullable<Text>,
        result -> Nullable<Text>,
        model -> Nullable<Text>,
        model_sha256 -> Nullable<Text>,
        prompt_version -> Nullable<Text>,
        timings -> Nullable<Text>,
        created_at -> Text,
    }
}

diesel::table! {
    scorecard_results (id) {
        id -> Text,
        org_id -> Text,
        conversation_id -> Text,
        template_id -> Text,
        template_version -> Integer,
        agent_user_id -> Nullable<Text>,
        conversation_at -> Text,
        score -> Nullable<Double>,
        answers -> Text,
        model -> Text,
        prompt_version -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    answer_reviews (id) {
        id -> Text,
        org_id -> Text,
        result_id -> Text,
        question_id -> Text,
        kind -> Text,
        state -> Text,
        answer -> Nullable<Text>,
        comment -> Nullable<Text>,
        created_by -> Text,
        created_at -> Text,
        resolved_by -> Nullable<Text>,
        resolved_at -> Nullable<Text>,
        resolution -> Nullable<Text>,
    }
}

diesel::table! {
    legal_holds (id) {
        id -> Text,
        org_id -> Text,
        scope -> Text,
        target_id -> Text,
        reason -> Text,
        set_by -> Text,
        set_at -> Text,
        released_by -> Nullable<Text>,
        released_at -> Nullable<Text>,
    }
}

diesel::table! {
    purge_runs (id) {
        id -> Text,
        org_id -> Text,
        started_at -> Text,
        finished_at -> Text,
        counts -> Text,
        trigger -> Text,
    }
}

diesel::table! {
    data_upgrades (name) {
        name -> Text,
        done_at -> Text,
    }
}

diesel::table! {
    audit_heads (chain) {
        chain -> Text,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    audit_anchors (chain) {
        chain -> Text,
        seq -> BigInt,
        hash -> Text,
        purged_at -> Text,
    }
}

diesel::table! {
    subjects (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        ai_opt_out -> Bool,
        restricted -> Bool,
        created_at -> Text,
        erased_at -> Nullable<Text>,
    }
}

diesel::table! {
    subject_tags (subject_id, tag) {
        org_id -> Text,
        subject_id -> Text,
        tag -> Text,
    }
}

diesel::table! {
    subject_links (subject_id, conversation_id) {
        org_id -> Text,
        subject_id -> Text,
        conversation_id -> Text,
        role -> Text,
    }
}

diesel::table! {
    subject_requests (id) {
        id -> Text,
        org_id -> Text,
        subject_id -> Text,
        kind -> Text,
        state -> Text,
        requester -> Text,
        received_at -> Text,
        due_at -> Text,
        options -> Text,
        result -> Nullable<Text>,
        progress -> Integer,
        lease_until -> Nullable<Text>,
        created_by -> Text,
        created_at -> Text,
        completed_at -> Nullable<Text>,
    }
}

diesel::table! {
    integration_state (integration_id) {
        integration_id -> Text,
        org_id -> Text,
        cursor -> Nullable<Text>,
        items_fetched -> BigInt,
        last_run_at -> Nullable<Text>,
        last_success_at -> Nullable<Text>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<Text>,
        lease_until -> Nullable<Text>,
    }
}

diesel::table! {
    egress_log (id) {
        id -> Text,
        org_id -> Text,
        integration_id -> Text,
        at -> Text,
        method -> Text,
        host -> Text,
        path -> Text,
        status -> Nullable<Integer>,
        bytes -> BigInt,
        outcome -> Text,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (integration_id, signature) {
        integration_id -> Text,
        signature -> Text,
        org_id -> Text,
        received_at -> Text,
    }
}

diesel::table! {
    storage_objects (org_id, object_tag) {
        org_id -> Text,
        object_tag -> Text,
        integration_id -> Text,
        taken_at -> Text,
    }
}

diesel::table! {
    alert_rules (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        condition -> Text,
        integration_id -> Text,
        created_by -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    alerts (id) {
        id -> Text,
        org_id -> Text,
        rule_id -> Text,
        conversation_id -> Text,
        detail -> Text,
        state -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Text,
        next_attempt_at -> Text,
        sent_at -> Nullable<Text>,
    }
}

diesel::joinable!(memberships -> orgs (org_id));
diesel::joinable!(memberships -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    users,
    memberships,
    sessions,
    api_tokens,
    audit_log,
    invites,
    conversations,
    segments,
    jobs,
    trackers,
    tracker_hits,
    org_keys,
    key_rotations,
    blind_index,
    integrations,
    templates,
    analyses,
    scorecard_results,
    answer_reviews,
    legal_holds,
    purge_runs,
    audit_anchors,
    audit_heads,
    data_upgrades,
    subjects,
    subject_tags,
    subject_links,
    subject_requests,
    integration_state,
    egress_log,
    webhook_deliveries,
    storage_objects,
    alert_rules,
    alerts
);
