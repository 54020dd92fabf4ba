// Generated from the Rust types by src-tauri/src/page_types.rs: do not edit. After changing a type the
// page sees, run scripts/contract.
import type { Channel } from "@tauri-apps/api/core";

/**
 * What went wrong, for the page to branch on: the same enum in TypeScript (`ErrorCode` in the generated
 * contract), so a code the page tests for is one the shell can send.
 */
export type ErrorCode = "already_there" | "bad_answer" | "browser_sign_in" | "busy" | "cancelled" | "export_failed" | "import_damaged" | "import_failed" | "insufficient_ryo" | "invalid_input" | "keychain_locked" | "no_browser" | "no_screen" | "not_found" | "not_offered" | "not_saved" | "offline" | "other_account" | "outdated" | "path_not_allowed" | "rate_limited" | "refused" | "server_moved" | "shortcut_failed" | "sign_out_incomplete" | "signed_out" | "superseded" | "throttled" | "timed_out" | "unconfirmed" | "unreachable" | "window" | "wrong_account" | "wrong_credentials" | "wrong_passphrase";

export type CommandError = { code: ErrorCode, message: string, };

/**
 * An account's state as its windows show it.
 */
export type AccountStatus = "loading" | "signed_in" | "offline" | "keychain_locked" | "signed_out";

/**
 * A stat a player trains.
 */
export type Stat = "strength" | "agility" | "chakra";

export type Stats = { strength: number, agility: number, chakra: number, };

/**
 * The game's rules as its server states them (docs/protocol.md): which villages there are, what travel costs,
 * how much xp a level takes, the largest transfer. The page shows these, never copies of its own.
 */
export type Rules = { villages: Array<string>, travel_cost: number, xp_per_training: number, xp_per_level: number, max_transfer: number, };

export type Profile = { id: string, username: string, level: number, xp: number, village: string, ryo: number, stats: Stats, 
/**
 * Increases on every change: of two copies, the higher version is the newer.
 */
version: number, updated_at: string, 
/**
 * The game's rules, sent with every profile; absent (null) in a copy cached from a server that does not
 * send them, or from before it did.
 */
rules: Rules | null, };

/**
 * A profile answer labelled with the account it is about, as the page receives it: the page drops anything
 * not for the account it shows (defence in depth for I3, since a channel message and a command answer have
 * no ordering guarantee around a switch).
 *
 */
export type AccountProfile = { account: string, profile: Profile, };

/**
 * What the player asked a window to do.
 */
export type Action = { "type": "train", stat: Stat, } | { "type": "travel", village: string, } | { "type": "transfer", to: string, amount: number, };

/**
 * What became of an action that was not confirmed.
 */
export type Outcome = { "result": "done" } | { "result": "refused", message: string, } | { "result": "not_done" } | { "result": "unknown" };

/**
 * A saved account as a page sees it: named through the presenter (no username, user id or server address in
 * streamer mode), its settings, and never a secret (a proxy's password is masked).
 */
export type SavedAccount = { id: string, 
/**
 * The username, or in streamer mode the alias (or "Account N").
 */
username: string, 
/**
 * The name to show: as `username`, with the alias in front when there is one ("Scout (kiba)").
 */
name: string, alias: string | null, server: string, colour: string, status: AccountStatus, notifications: boolean, groups: Array<string>, proxy: string | null, };

/**
 * Why an account's requests do not reach its game server.
 */
export type OfflineCause = { "cause": "proxy", proxy: string, } | { "cause": "game_server" } | { "cause": "no_network" } | { "cause": "proxy_not_usable", reason: string, };

/**
 * What a window shows: its account (if any), that account's state and cached profile, and how to show them.
 */
export type WindowState = { account: SavedAccount | null, status: AccountStatus, profile: Profile | null, cachedAt: number | null, notice: string | null, 
/**
 * What is wrong with the keychain for this account (it may still be signed in and working from memory).
 */
keychain: string | null, 
/**
 * Streamer mode is on: the page shows what it is given and hides its own identifying chrome.
 */
streamer: boolean, 
/**
 * Balances are not shown (streamer mode with "hide balances").
 */
hideBalances: boolean, 
/**
 * Why the account is offline, once Kage knows: its proxy, the game server, or no network at all.
 */
offline: OfflineCause | null, };

/**
 * What a page is told about its window's account: core's `WindowUpdate`, named as the page may show it, with
 * a status change carrying the window's whole state (the keychain's health, the cached profile, a notice), so
 * the page paints it without asking `window_state` again.
 */
export type PageUpdate = { "kind": "profile", profile: Profile, } | { "kind": "status", status: AccountStatus, state: WindowState, } | { "kind": "transfer_received", from: string, amount: number, } | { "kind": "action_settled", action: Action, outcome: Outcome, };

/**
 * A channel message: the update and the id of the account it is about, so the page can drop anything not for
 * the account it shows.
 */
export type AccountUpdate = { account: string, } & ({ "kind": "profile", profile: Profile, } | { "kind": "status", status: AccountStatus, state: WindowState, } | { "kind": "transfer_received", from: string, amount: number, } | { "kind": "action_settled", action: Action, outcome: Outcome, });

/**
 * Whether the system keychain answered at start, and if not, what to tell the player.
 */
export type KeychainNote = { available: boolean, message: string | null, };

export type DemoPlayer = { username: string, password: string, };

export type ServerInfo = { origin: string, sandbox: boolean, demoPlayers: Array<DemoPlayer>, keychain: KeychainNote, 
/**
 * Something the player must know about this start, such as a damaged list of saved accounts kept aside.
 */
startupNotice: string | null, 
/**
 * The server takes passwords; it offers signing in through its identity provider in the browser.
 */
passwordSignIn: boolean, browserSignIn: boolean, };

/**
 * What the player can change about a saved account: everything in it that is neither an identity nor a secret.
 */
export type AccountSettings = { alias: string | null, colour: string, notifications: boolean, groups: Array<string>, proxy: string | null, };

export type Prefs = { 
/**
 * Aliases instead of usernames everywhere; no user ids or server addresses on screen.
 */
streamerMode: boolean, 
/**
 * In streamer mode, also hide ryo balances.
 */
hideBalances: boolean, 
/**
 * Pause between two windows of "Open all" or a group, in milliseconds.
 */
staggerMs: number, 
/**
 * System-wide shortcuts to cycle account windows (off by default: they take keys from every other app).
 */
globalShortcuts: boolean, shortcutNext: string, shortcutPrevious: string, 
/**
 * Closing the last window leaves Kage running in the tray (its notifications keep coming). Off by default:
 * some desktops (GNOME without an AppIndicator extension) show no tray, and the app would run unseen.
 */
keepInTray: boolean, 
/**
 * The overview lets clicks through to the window under it (for players who keep it over the game).
 */
overviewClickThrough: boolean, 
/**
 * The overview window's opacity, in percent (30..100).
 */
overviewOpacity: number, 
/**
 * An account window hidden or minimised this many seconds gives up its web process until it is shown
 * again (the settings page offers minutes; tests use seconds). 0: never.
 */
hibernateAfterSecs: number, 
/**
 * Also hibernate a window that is shown but has not had the focus for that long.
 */
hibernateUnfocused: boolean, 
/**
 * At most this many account windows keep their web process; beyond it, windows out of sight hibernate at
 * once, longest out of sight first. 0: no cap.
 */
liveWindowCap: number, };

/**
 * The preferences now in force, and what could not be applied.
 */
export type PrefsApplied = { prefs: Prefs, notice: string | null, };

export type Exported = { path: string, accounts: number, withCredentials: number, 
/**
 * Accounts whose sign-in could not be included (signed out, server unreachable), by on-screen name.
 */
withoutCredentials: Array<string>, 
/**
 * Web game accounts written (names and settings only, never their sign-ins).
 */
webAccounts: number, };

export type Imported = { added: number, merged: number, credentials: number, 
/**
 * Sentences about accounts that came in without a working sign-in.
 */
problems: Array<string>, 
/**
 * Web game accounts added (each with an empty partition: the player signs in on the site).
 */
webAdded: number, };

export type SignInArgs = { username: string, password: string, 
/**
 * Save the sign-in in the keychain, so the account opens without a password next time.
 */
remember: boolean, };

export type SignInBrowserArgs = { remember: boolean, };

/**
 * A saved account the player picked from the list (see the module comment).
 */
export type SavedAccountArgs = { accountId: string, };

/**
 * The page's channel for its account's updates.
 */
export type SubscribeArgs = { onUpdate: Channel<AccountUpdate>, };

/**
 * The page's channel for "names on screen changed".
 */
export type WatchDisplayArgs = { onChange: Channel<boolean>, };

export type TrainArgs = { stat: Stat, };

export type TravelArgs = { village: string, };

/**
 * The amount arrives as the player typed it, so that every bad input gets the same clear answer.
 */
export type TransferArgs = { to: string, amount: string | number, };

/**
 * `account_id`: a saved account the player picked, or `null` for the sign-in screen.
 */
export type OpenWindowArgs = { accountId: string | null, };

/**
 * `group`: a launch group's name, or `null` for every saved account.
 */
export type OpenAccountsArgs = { group: string | null, };

/**
 * `position`: 1 for the first saved account.
 */
export type FocusAccountArgs = { position: number, };

export type CycleWindowsArgs = { forward: boolean, };

/**
 * One of the two: `accountId` (a saved account the player picked) or `group` (a launch group's name).
 */
export type CreateShortcutArgs = { accountId: string | null, group: string | null, };

/**
 * The shortcut made: what the desktop's menu calls it, and its file's name in the applications folder.
 */
export type ShortcutMade = { menuName: string, fileName: string, };

/**
 * How a group's windows are laid out.
 */
export type Template = "remembered" | "grid" | "main_and_stack" | "one_per_monitor";

/**
 * A launch group and the template it opens in.
 */
export type GroupTemplate = { group: string, template: Template, };

export type SetGroupTemplateArgs = { group: string, template: Template, };

export type UpdateAccountArgs = { accountId: string, settings: AccountSettings, };

export type SetPrefsArgs = { prefs: Prefs, };

export type ExportArgs = { passphrase: string, 
/**
 * Put each account's sign-in in the file (a new session made for the export), not only the list.
 */
includeCredentials: boolean, 
/**
 * Always `null`: a path from the page is refused (the file is the player's choice in the dialog).
 */
path: string | null, };

export type ImportArgs = { passphrase: string, 
/**
 * Always `null`: a path from the page is refused (the file is the player's choice in the dialog).
 */
path: string | null, };

/**
 * How a session stands to this computer's.
 */
export type SessionRelation = "current" | "fork" | "other";

/**
 * One of the account's live sessions on its server.
 */
export type AccountSession = { 
/**
 * The server's session id: what [`crate::Core::end_session`] takes.
 */
id: string, 
/**
 * `api` (an app, such as Kage) or `browser` (the game's web site).
 */
kind: string, created_at: string, 
/**
 * The sign-in or the latest refresh.
 */
last_used_at: string, 
/**
 * When the session ends unless refreshed (or ended) first.
 */
expires_at: string, relation: SessionRelation, };

export type EndSessionArgs = { accountId: string, 
/**
 * The server's id of the session to end, as `account_sessions` listed it.
 */
sessionId: string, };

/**
 * A web game as the panel shows it, with its accounts.
 */
export type WebGameView = { id: string, name: string, startUrl: string, allowedOrigins: Array<string>, accounts: Array<WebAccountView>, };

/**
 * A web account as the panel shows it: named through the presenter (its alias or "Web account N" in streamer
 * mode), never its partition.
 */
export type WebAccountView = { id: string, name: string, 
/**
 * The player's own name for it, for the rename form; `None` in streamer mode (it may be the site's
 * username).
 */
ownName: string | null, alias: string | null, colour: string, 
/**
 * How many windows of it are open.
 */
windows: number, 
/**
 * Its Ctrl+N (numbered after the Kage-protocol accounts), if it has one.
 */
hotkey: number | null, 
/**
 * Its proxy; `None` in streamer mode (an address can lead back to the player), see `proxy_hidden`.
 */
proxy: string | null, 
/**
 * Streamer mode hides the proxy: the panel must not offer to change what it cannot show.
 */
proxyHidden: boolean, 
/**
 * The site origin of the sign-in saved for it in the keychain, if any (the panel offers "Fill sign-in").
 */
signInOrigin: string | null, 
/**
 * Whether the notifications its game's page raises are shown, and the launch groups it is in.
 */
settings: WebAccountSettings, };

export type AddWebGameArgs = { startUrl: string, name: string | null, };

export type WebGameArgs = { gameId: string, };

/**
 * `origins`: the extra origins the game's windows may show (a sign-in provider's), beside the start URL's.
 */
export type WebGameOriginsArgs = { gameId: string, origins: Array<string>, };

export type AddWebAccountArgs = { gameId: string, name: string, };

/**
 * `name`: `null` keeps the name (a rename form in streamer mode changes the alias only).
 */
export type RenameWebAccountArgs = { accountId: string, name: string | null, alias: string | null, };

/**
 * `proxy`: `null` or blank for none.
 */
export type WebAccountProxyArgs = { accountId: string, proxy: string | null, };

/**
 * `new_window`: open another window of the account even when one is open (else that one comes forward).
 */
export type OpenWebAccountArgs = { accountId: string, newWindow: boolean, };

export type WebAccountArgs = { accountId: string, };

/**
 * What the panel shows of an account's saved sign-in. Never the password.
 */
export type WebSignInView = { 
/**
 * Where it is filled; `None`: nothing saved.
 */
origin: string | null, 
/**
 * The site's username; `None` in streamer mode or when the keychain could not be read.
 */
username: string | null, 
/**
 * The origins the player may save a sign-in for (the game's allowed origins).
 */
origins: Array<string>, 
/**
 * A sentence when the keychain could not be read (locked, not available): nothing is lost.
 */
keychainProblem: string | null, };

export type SaveWebSignInArgs = { accountId: string, origin: string, username: string, password: string, };

export type WebSignInArgs = { accountId: string, };

/**
 * A web account's notifications switch and launch groups, as the panel sends them.
 */
export type WebAccountSettings = { notifications: boolean, groups: Array<string>, };

export type WebAccountSettingsArgs = { accountId: string, settings: WebAccountSettings, };

/**
 * What a tile says an account is doing.
 */
export type TileState = "signed_in" | "connecting" | "offline" | "needs_sign_in" | "keychain_trouble" | "rate_limited" | "hibernating" | "closed" | "open";

/**
 * Whether a tile is a Kage-protocol account or a web game's.
 */
export type TileKind = "kage" | "web";

/**
 * One account's tile, as the overview page shows it.
 */
export type Tile = { 
/**
 * The account's roster id (or web account id): the page replaces a tile only with an update of this key.
 */
key: string, kind: TileKind, 
/**
 * Its Ctrl+1..9 number (1 for the first saved account).
 */
position: number, name: string, colour: string, state: TileState, 
/**
 * Kage-protocol accounts, once a profile is known.
 */
level: number | null, 
/**
 * `None` also while streamer mode hides balances.
 */
ryo: number | null, 
/**
 * Notifications since one of the account's windows last had the focus.
 */
unread: number, };

/**
 * How the overview window looks, from the preferences.
 */
export type OverviewOptions = { 
/**
 * Clicks go through the window to what is under it (the overview cannot be clicked then).
 */
clickThrough: boolean, 
/**
 * Percent, 30..100.
 */
opacity: number, };

/**
 * The overview's first answer: every tile and its options.
 */
export type OverviewSnapshot = { tiles: Array<Tile>, options: OverviewOptions, };

/**
 * A message on the overview's channel.
 */
export type OverviewMessage = { "kind": "tile", key: string, tile: Tile, flash: boolean, } | { "kind": "tiles", tiles: Array<Tile>, } | { "kind": "options", options: OverviewOptions, };

export type OverviewTilesArgs = { onUpdate: Channel<OverviewMessage>, };

/**
 * A tile's key, as the overview was sent it.
 */
export type OverviewActivateArgs = { key: string, };

/**
 * Every tile's key in the order the player dragged them into.
 */
export type OverviewReorderArgs = { keys: Array<string>, };

/** Every command the page may call: its arguments (`null`: none) and its answer. */
export type Commands = {
  server_info: { args: null; result: ServerInfo };
  sign_in: { args: SignInArgs; result: WindowState };
  sign_in_browser: { args: SignInBrowserArgs; result: WindowState };
  cancel_browser_sign_in: { args: null; result: boolean };
  open_saved: { args: SavedAccountArgs; result: WindowState };
  sign_out: { args: null; result: WindowState };
  forget_account: { args: SavedAccountArgs; result: Array<SavedAccount> };
  sign_out_account: { args: SavedAccountArgs; result: Array<SavedAccount> };
  saved_accounts: { args: null; result: Array<SavedAccount> };
  account_sessions: { args: SavedAccountArgs; result: Array<AccountSession> };
  end_account_session: { args: EndSessionArgs; result: Array<AccountSession> };
  end_other_sessions: { args: SavedAccountArgs; result: Array<AccountSession> };
  window_state: { args: null; result: WindowState };
  subscribe: { args: SubscribeArgs; result: null };
  watch_display: { args: WatchDisplayArgs; result: null };
  refresh_profile: { args: null; result: AccountProfile };
  train: { args: TrainArgs; result: AccountProfile };
  travel: { args: TravelArgs; result: AccountProfile };
  check_transfer: { args: TransferArgs; result: null };
  transfer: { args: TransferArgs; result: AccountProfile };
  open_window: { args: OpenWindowArgs; result: string };
  open_accounts: { args: OpenAccountsArgs; result: number };
  focus_account: { args: FocusAccountArgs; result: null };
  cycle_windows: { args: CycleWindowsArgs; result: null };
  tile_windows: { args: null; result: number };
  create_shortcut: { args: CreateShortcutArgs; result: ShortcutMade };
  group_templates: { args: null; result: Array<GroupTemplate> };
  set_group_template: { args: SetGroupTemplateArgs; result: Array<GroupTemplate> };
  update_account: { args: UpdateAccountArgs; result: Array<SavedAccount> };
  prefs: { args: null; result: Prefs };
  set_prefs: { args: SetPrefsArgs; result: PrefsApplied };
  export_accounts: { args: ExportArgs; result: Exported };
  import_accounts: { args: ImportArgs; result: Imported };
  web_games: { args: null; result: Array<WebGameView> };
  add_web_game: { args: AddWebGameArgs; result: Array<WebGameView> };
  set_web_game_origins: { args: WebGameOriginsArgs; result: Array<WebGameView> };
  remove_web_game: { args: WebGameArgs; result: Array<WebGameView> };
  add_web_account: { args: AddWebAccountArgs; result: Array<WebGameView> };
  rename_web_account: { args: RenameWebAccountArgs; result: Array<WebGameView> };
  set_web_account_proxy: { args: WebAccountProxyArgs; result: Array<WebGameView> };
  open_web_account: { args: OpenWebAccountArgs; result: Array<WebGameView> };
  sign_out_web_account: { args: WebAccountArgs; result: Array<WebGameView> };
  forget_web_account: { args: WebAccountArgs; result: Array<WebGameView> };
  web_sign_in: { args: WebSignInArgs; result: WebSignInView };
  save_web_sign_in: { args: SaveWebSignInArgs; result: WebSignInView };
  remove_web_sign_in: { args: WebSignInArgs; result: WebSignInView };
  fill_web_sign_in: { args: WebSignInArgs; result: string };
  set_web_account_settings: { args: WebAccountSettingsArgs; result: Array<WebGameView> };
  open_overview: { args: null; result: null };
  overview_tiles: { args: OverviewTilesArgs; result: OverviewSnapshot };
  overview_activate: { args: OverviewActivateArgs; result: null };
  overview_reorder: { args: OverviewReorderArgs; result: null };
};
