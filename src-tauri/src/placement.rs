//! Screen geometry for account windows, in physical pixels: the grid "Tile windows" lays them out in, and
//! whether a remembered place is still on a screen. Pure arithmetic, kept apart from Tauri so it is tested
//! without a desktop (`windows.rs` reads the monitors and moves the windows).

use crate::roster::Place;

/// A rectangle on the desktop: a monitor, its work area, or one cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Area {
    // i64: a monitor at x = i32::MAX - 10 with a width of 1920 must not wrap around.
    fn right(&self) -> i64 {
        i64::from(self.x) + i64::from(self.width)
    }

    fn bottom(&self) -> i64 {
        i64::from(self.y) + i64::from(self.height)
    }

    pub fn contains(&self, other: &Area) -> bool {
        other.x >= self.x && other.y >= self.y && other.right() <= self.right() && other.bottom() <= self.bottom()
    }

    /// How much of `other` lies on this area, as (width, height); (0, 0) when they do not meet.
    fn overlap(&self, other: &Area) -> (i64, i64) {
        let width = self.right().min(other.right()) - i64::from(self.x.max(other.x));
        let height = self.bottom().min(other.bottom()) - i64::from(self.y.max(other.y));
        if width <= 0 || height <= 0 { (0, 0) } else { (width, height) }
    }
}

impl From<Place> for Area {
    fn from(place: Place) -> Self {
        Self { x: place.x, y: place.y, width: place.width, height: place.height }
    }
}

/// `count` equal cells filling `area`, left to right then top to bottom: `ceil(sqrt(count))` columns and as many
/// rows as it takes. A last row that is not full keeps the same cell size (windows of one size are easier to
/// tell apart by content than by shape) and starts at the left. Leftover pixels from the division are left
/// unused, so no cell reaches past `area`.
pub fn grid(area: Area, count: usize) -> Vec<Area> {
    if count == 0 {
        return Vec::new();
    }
    let columns = (1..=count).find(|c| c * c >= count).unwrap_or(count);
    let rows = count.div_ceil(columns);
    // Both fit in u32: columns <= count and the cells are at most the area's own size.
    let width = area.width / columns as u32;
    let height = area.height / rows as u32;
    (0..count)
        .map(|index| {
            let (column, row) = ((index % columns) as u32, (index / columns) as u32);
            Area {
                x: area.x.saturating_add_unsigned(column * width),
                y: area.y.saturating_add_unsigned(row * height),
                width,
                height,
            }
        })
        .collect()
}

/// How much of a window's top strip (where its title bar is) must be on a screen for the player to grab it.
const GRAB_WIDTH: i64 = 64;
const GRAB_HEIGHT: i64 = 16;

/// Whether a window put at `place` could be seen and dragged on one of `screens` (the monitors connected now):
/// a strip of its title bar at least 64 by 16 pixels lies on one monitor. A place remembered on a monitor that
/// has since been unplugged fails this, and the window opens where the desktop puts it instead.
pub fn is_on_screen(place: Place, screens: &[Area]) -> bool {
    let window = Area::from(place);
    let title_bar = Area { height: window.height.min(GRAB_HEIGHT as u32 * 2), ..window };
    screens.iter().any(|screen| {
        let (width, height) = screen.overlap(&title_bar);
        width >= GRAB_WIDTH.min(i64::from(window.width)) && height >= GRAB_HEIGHT.min(i64::from(window.height))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: Area = Area { x: 0, y: 0, width: 1920, height: 1040 };

    fn shape(cells: &[Area]) -> (usize, usize) {
        let mut xs: Vec<i32> = cells.iter().map(|c| c.x).collect();
        let mut ys: Vec<i32> = cells.iter().map(|c| c.y).collect();
        xs.sort();
        xs.dedup();
        ys.sort();
        ys.dedup();
        (xs.len(), ys.len())
    }

    #[test]
    fn the_grid_has_ceil_sqrt_columns_and_just_enough_rows() {
        for (count, columns, rows) in [(1, 1, 1), (2, 2, 1), (3, 2, 2), (4, 2, 2), (5, 3, 2), (8, 3, 3), (9, 3, 3)] {
            let cells = grid(SCREEN, count);
            assert_eq!(cells.len(), count);
            assert_eq!(shape(&cells), (columns, rows), "{count} windows");
            let expected = (SCREEN.width / columns as u32, SCREEN.height / rows as u32);
            assert!(cells.iter().all(|c| (c.width, c.height) == expected), "{count}: one size for all: {cells:?}");
        }
        assert_eq!(grid(SCREEN, 0), Vec::new());
        assert_eq!(grid(SCREEN, 1), vec![SCREEN], "one window takes the whole area");
    }

    #[test]
    fn a_last_row_that_is_not_full_starts_at_the_left_under_the_row_above() {
        let cells = grid(SCREEN, 5);
        assert_eq!(cells[3], Area { x: 0, y: 520, width: 640, height: 520 });
        assert_eq!(cells[4], Area { x: 640, y: 520, width: 640, height: 520 });
        let cells = grid(SCREEN, 3);
        assert_eq!(cells[2], Area { x: 0, y: 520, width: 960, height: 520 });
    }

    #[test]
    fn no_cell_reaches_outside_the_area_and_no_two_overlap() {
        let areas = [
            SCREEN,
            Area { x: 1920, y: 27, width: 2560, height: 1413 },
            Area { x: -1280, y: -200, width: 1279, height: 1023 },
            Area { x: 0, y: 0, width: 7, height: 5 },
        ];
        for area in areas {
            for count in 1..=16 {
                let cells = grid(area, count);
                assert!(cells.iter().all(|cell| area.contains(cell)), "{count} in {area:?}: {cells:?}");
                for (i, a) in cells.iter().enumerate() {
                    for b in &cells[i + 1..] {
                        assert_eq!(a.overlap(b), (0, 0), "{count} in {area:?}: {a:?} and {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_place_counts_as_on_screen_only_where_its_title_bar_can_be_grabbed() {
        let left = Area { x: 0, y: 0, width: 1920, height: 1080 };
        let right = Area { x: 1920, y: 0, width: 2560, height: 1440 };
        let place = |x, y| Place { x, y, width: 460, height: 720 };

        assert!(is_on_screen(place(100, 100), &[left]));
        assert!(is_on_screen(place(2500, 300), &[left, right]), "on the second monitor");
        assert!(!is_on_screen(place(2500, 300), &[left]), "that monitor was unplugged");
        assert!(!is_on_screen(place(100, 100), &[]), "no monitor known: leave the default");
        assert!(is_on_screen(place(-8, -4), &[left]), "a few pixels of frame off the edge is fine");
        assert!(!is_on_screen(place(1900, 100), &[left]), "only 20 pixels of it would show");
        assert!(!is_on_screen(place(100, 1075), &[left]), "its title bar would be under the bottom edge");
        assert!(!is_on_screen(place(100, -600), &[left]), "its title bar would be above the top edge");
    }
}
