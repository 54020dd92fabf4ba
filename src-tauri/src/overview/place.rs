//! Where the overview window was, kept in its own small file (`overview.json` in the app data dir, written
//! atomically like the roster) so it comes back there at its size. A damaged file only costs the place.

use std::path::Path;
use std::sync::Mutex;

use kage_core::locks::Recover;
use serde::{Deserialize, Serialize};

use crate::durable::{JsonFile, Opened};
use crate::roster::Place;

const FILE: &str = "overview.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct PlaceDoc {
    place: Option<Place>,
}

/// The overview's remembered place: noted as the window moves, written when it closes and at exit.
pub struct PlaceFile {
    file: JsonFile,
    place: Mutex<(Option<Place>, bool)>,
}

impl PlaceFile {
    pub fn open(dir: &Path) -> Self {
        let file = JsonFile::new(dir.join(FILE));
        let place = match file.open::<PlaceDoc>() {
            Opened::Read(doc) => doc.place,
            Opened::MovedAside { .. } | Opened::Unreadable(_) => None,
        };
        Self { file, place: Mutex::new((place, false)) }
    }

    pub fn get(&self) -> Option<Place> {
        self.place.lock().recover().0
    }

    pub fn note(&self, place: Place) {
        let mut noted = self.place.lock().recover();
        if noted.0 != Some(place) {
            *noted = (Some(place), true);
        }
    }

    /// Writes the place if it changed since the last write.
    pub fn flush(&self) -> std::io::Result<()> {
        let mut noted = self.place.lock().recover();
        if !noted.1 {
            return Ok(());
        }
        self.file.save(&PlaceDoc { place: noted.0 })?;
        noted.1 = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overviews_place_is_kept_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let place = Place { x: 40, y: 30, width: 260, height: 320 };
        let file = PlaceFile::open(dir.path());
        assert_eq!(file.get(), None);
        file.note(place);
        file.flush().unwrap();
        assert_eq!(PlaceFile::open(dir.path()).get(), Some(place));
    }
}
