//! Layout templates a launch group's windows are placed by when the group opens ("Open group"): a grid, one large
//! window with the rest stacked beside it, or one window per monitor. Each adapts to how many windows are open
//! and to the monitors connected now: [`arrange`] is a pure function of (template, window count, monitor work
//! areas), so it is tested without a desktop; `windows.rs` reads the monitors and moves the windows.
//!
//! Every rectangle lies on a monitor and no two overlap (the tests check both for many counts and monitor sets).
//! A window opened on its own (a hotkey, the tray, `kage open`) is not placed by a template: its remembered
//! place wins.

use serde::{Deserialize, Serialize};

use crate::placement::{Area, grid};

/// How a group's windows are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// Every window remembered where it was: no template (what groups had before templates).
    #[default]
    Remembered,
    /// Equal cells on the first monitor (as "Tile windows").
    Grid,
    /// The first window large on the left two thirds of the first monitor, the others stacked on the right.
    MainAndStack,
    /// Window 1 on monitor 1, window 2 on monitor 2, and so on; with more windows than monitors, each monitor's
    /// windows share it as a grid.
    OnePerMonitor,
}

/// Where each of `count` windows goes under `template`, given the work areas of the monitors connected now (the
/// first is where single-monitor templates go: the caller puts the primary or focused monitor first). Empty when
/// there is no monitor or nothing to place, and for [`Template::Remembered`].
pub fn arrange(template: Template, count: usize, monitors: &[Area]) -> Vec<Area> {
    let Some(&first) = monitors.first() else { return Vec::new() };
    match template {
        Template::Remembered => Vec::new(),
        Template::Grid => grid(first, count),
        Template::MainAndStack => main_and_stack(first, count),
        Template::OnePerMonitor => one_per_monitor(monitors, count),
    }
}

fn main_and_stack(area: Area, count: usize) -> Vec<Area> {
    if count <= 1 {
        return grid(area, count);
    }
    let main_width = area.width / 3 * 2;
    let main = Area { width: main_width, ..area };
    let stack = Area { x: area.x.saturating_add_unsigned(main_width), width: area.width - main_width, ..area };
    let rest = count - 1;
    let height = stack.height / rest as u32;
    let mut cells = vec![main];
    cells.extend((0..rest as u32).map(|row| Area {
        y: stack.y.saturating_add_unsigned(row * height),
        height,
        ..stack
    }));
    cells
}

fn one_per_monitor(monitors: &[Area], count: usize) -> Vec<Area> {
    let screens = monitors.len();
    // Monitor j takes windows j, j + screens, ...; each monitor's share as a grid, handed back in window order.
    let shares: Vec<Vec<Area>> = (0..screens).map(|j| grid(monitors[j], (j..count).step_by(screens).count())).collect();
    (0..count).map(|i| shares[i % screens][i / screens]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAPTOP: Area = Area { x: 0, y: 0, width: 1920, height: 1040 };
    const RIGHT: Area = Area { x: 1920, y: 27, width: 2560, height: 1413 };
    const LEFT: Area = Area { x: -1280, y: -200, width: 1279, height: 1023 };

    fn meets(a: &Area, b: &Area) -> bool {
        let (ax, ay) = (i64::from(a.x), i64::from(a.y));
        let (bx, by) = (i64::from(b.x), i64::from(b.y));
        ax < bx + i64::from(b.width)
            && bx < ax + i64::from(a.width)
            && ay < by + i64::from(b.height)
            && by < ay + i64::from(a.height)
    }

    #[test]
    fn every_template_puts_each_window_on_a_monitor_and_no_two_over_each_other() {
        let setups: [&[Area]; 4] =
            [&[LAPTOP], &[LAPTOP, RIGHT], &[RIGHT, LAPTOP, LEFT], &[Area { x: 0, y: 0, width: 9, height: 7 }]];
        for template in [Template::Grid, Template::MainAndStack, Template::OnePerMonitor] {
            for monitors in setups {
                for count in 0..=12 {
                    let cells = arrange(template, count, monitors);
                    assert_eq!(cells.len(), count, "{template:?}, {count} on {monitors:?}");
                    for cell in &cells {
                        assert!(
                            monitors.iter().any(|m| m.contains(cell)),
                            "{template:?}, {count}: {cell:?} off screen"
                        );
                    }
                    for (i, a) in cells.iter().enumerate() {
                        for b in &cells[i + 1..] {
                            assert!(!meets(a, b), "{template:?}, {count} on {monitors:?}: {a:?} over {b:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn one_large_window_takes_two_thirds_and_the_rest_share_the_last_third() {
        let cells = arrange(Template::MainAndStack, 4, &[LAPTOP]);
        assert_eq!(cells[0], Area { x: 0, y: 0, width: 1280, height: 1040 });
        assert_eq!(cells[1], Area { x: 1280, y: 0, width: 640, height: 346 });
        assert_eq!(cells[3], Area { x: 1280, y: 692, width: 640, height: 346 });
        assert_eq!(arrange(Template::MainAndStack, 1, &[LAPTOP]), vec![LAPTOP], "alone, it takes the screen");
    }

    #[test]
    fn one_per_monitor_follows_the_monitors_connected_now() {
        // Two monitors, two windows: one each, the whole work area.
        assert_eq!(arrange(Template::OnePerMonitor, 2, &[LAPTOP, RIGHT]), vec![LAPTOP, RIGHT]);
        // The second monitor unplugged: both share the one left.
        let alone = arrange(Template::OnePerMonitor, 2, &[LAPTOP]);
        assert_eq!(alone, grid(LAPTOP, 2));
        // Three windows on two monitors: the first monitor holds windows 1 and 3.
        let three = arrange(Template::OnePerMonitor, 3, &[LAPTOP, RIGHT]);
        assert_eq!(three[1], RIGHT);
        assert!(LAPTOP.contains(&three[0]) && LAPTOP.contains(&three[2]) && three[0] != three[2]);
    }

    #[test]
    fn no_monitor_or_remembered_places_arrange_nothing() {
        assert!(arrange(Template::Grid, 3, &[]).is_empty());
        assert!(arrange(Template::Remembered, 3, &[LAPTOP]).is_empty());
    }
}
