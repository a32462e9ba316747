//! The portable diesel schema shared by SQLite and PostgreSQL.

diesel::table! {
    installation (id) {
        id -> Integer,
        installation_id -> Text,
        created_at -> Text,
    }
}
