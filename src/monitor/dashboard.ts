export const DASHBOARD_HTML = '<!doctype html><title>natrium</title>';
